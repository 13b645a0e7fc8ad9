from payment_simulator.bootstrap import build_app
from payment_simulator.settings import PaymentSimulatorSettings
from service_kit.server import run_service

if __name__ == "__main__":
    run_service(PaymentSimulatorSettings, build_app)
