from query_projection.bootstrap import build_app
from query_projection.settings import QueryProjectionSettings
from service_kit.server import run_service

if __name__ == "__main__":
    run_service(QueryProjectionSettings, build_app)
