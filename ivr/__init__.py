"""Emergency-line call triage: the Flask application factory."""
import logging

from flask import Flask

import web
from ivr import logs, store
from ivr.call import maintenance, routing, transport, webhooks
from ivr.screening import commands, robocall
from ivr.speech import engines, slots
from ivr.triage import classifier
from ivr.config import load_config, refuse_dev_defaults


def create_app(overrides=None):
    """Build the app: config, database, speech engine, classifier, blueprints."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_config())
    app.config.update(overrides or {})
    logs.init_app(app)
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    refuse_dev_defaults(app.config)

    store.init_app(app)
    classifier.init_app(app)
    engines.init_app(app)
    slots.init_app(app)
    routing.init_app(app)
    robocall.init_app(app)
    transport.sock.init_app(app)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(transport.bp)
    web.init_app(app)
    commands.init_app(app)
    maintenance.init_app(app)
    return app

