"""Emergency-line call triage: the Flask application factory."""
import logging

from flask import Flask

import web
from ivr import logs, store
from ivr.call import maintenance, routing, transport, webhooks
from ivr.screening import commands, robocall
from ivr.speech import engines
from ivr.triage import classifier
from ivr.config import DEV_AUTH_TOKEN, load_config


def create_app(overrides=None):
    """Build the app: config, database, speech engine, classifier, blueprints."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_config())
    app.config.update(overrides or {})
    logs.init_app(app)
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    _refuse_dev_token_in_public(app)

    store.init_app(app)
    classifier.init_app(app)
    engines.init_app(app)
    routing.init_app(app)
    robocall.init_app(app)
    transport.sock.init_app(app)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(transport.bp)
    web.init_app(app)
    commands.init_app(app)
    maintenance.init_app(app)
    return app


def _refuse_dev_token_in_public(app):
    """A public https deployment with the development auth token would accept forged webhooks."""
    public = app.config["PUBLIC_URL"]
    if app.config["TWILIO_AUTH_TOKEN"] == DEV_AUTH_TOKEN:
        if public.startswith("https://"):
            raise RuntimeError("TWILIO_AUTH_TOKEN is the development default while PUBLIC_URL is https: set the real token")
        logging.getLogger(__name__).warning("TWILIO_AUTH_TOKEN is the development default: fine for the simulator only")
