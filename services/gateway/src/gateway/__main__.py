from gateway.bootstrap import build_app
from gateway.settings import GatewaySettings
from service_kit.server import run_service

if __name__ == "__main__":
    run_service(GatewaySettings, build_app)
