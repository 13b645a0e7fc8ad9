import sys

from entry.bootstrap import build_app
from entry.settings import EntrySettings
from service_kit.server import run_service

if __name__ == "__main__":
    if len(sys.argv) > 1:
        from entry.entrypoints.cli import main

        sys.exit(main(sys.argv[1:]))
    run_service(EntrySettings, build_app)
