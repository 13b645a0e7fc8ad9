import sys

from notifications.bootstrap import build_app
from notifications.entrypoints.cli import main
from notifications.settings import NotificationsSettings
from service_kit.server import run_service

if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(sys.argv[1:]))
    run_service(NotificationsSettings, build_app)
