import sys

from booking_command.bootstrap import build_app
from booking_command.entrypoints.cli import main
from booking_command.settings import BookingCommandSettings
from service_kit.server import run_service

if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(sys.argv[1:]))
    run_service(BookingCommandSettings, build_app)
