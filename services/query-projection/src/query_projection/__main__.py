import sys

from query_projection.bootstrap import build_app
from query_projection.settings import QueryProjectionSettings
from service_kit.server import run_service

if __name__ == "__main__":
    if len(sys.argv) > 1:
        from query_projection.entrypoints.cli import main

        sys.exit(main(sys.argv[1:]))
    run_service(QueryProjectionSettings, build_app)
