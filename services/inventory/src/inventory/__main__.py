from inventory.bootstrap import build_app
from inventory.settings import InventorySettings
from service_kit.server import run_service

if __name__ == "__main__":
    run_service(InventorySettings, build_app)
