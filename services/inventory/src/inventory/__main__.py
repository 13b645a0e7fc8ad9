from service_kit.server import run_service

from inventory.bootstrap import build_app
from inventory.settings import InventorySettings

if __name__ == "__main__":
    run_service(InventorySettings, build_app)
