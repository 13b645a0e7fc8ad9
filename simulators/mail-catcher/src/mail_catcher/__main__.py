from mail_catcher.bootstrap import build_app
from mail_catcher.settings import MailCatcherSettings
from service_kit.server import run_service

if __name__ == "__main__":
    run_service(MailCatcherSettings, build_app)
