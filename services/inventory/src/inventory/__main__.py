import sys

from inventory.bootstrap import build_app
from inventory.entrypoints.cli import main
from inventory.settings import InventorySettings
from service_kit.server import run_service

if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(sys.argv[1:]))
    run_service(InventorySettings, build_app)
