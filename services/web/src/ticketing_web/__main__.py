from service_kit.server import run_service
from ticketing_web.bootstrap import build_app
from ticketing_web.settings import WebSettings

if __name__ == "__main__":
    run_service(WebSettings, build_app)
