from booking_command.bootstrap import build_app
from booking_command.settings import BookingCommandSettings
from service_kit.server import run_service

if __name__ == "__main__":
    run_service(BookingCommandSettings, build_app)
