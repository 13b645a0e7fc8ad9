from service_kit.server import run_service

from gateway.bootstrap import build_app
from gateway.settings import GatewaySettings

if __name__ == "__main__":
    run_service(GatewaySettings, build_app)
