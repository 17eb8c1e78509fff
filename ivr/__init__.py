"""Emergency-line call triage: the Flask application factory."""


def create_app(overrides=None):
    """Build the app: config, database, speech engine, classifier, blueprints."""
    # Imported here, not at the top: `import ivr.config` (gunicorn's master for its settings check, bin/serve)
    # then costs milliseconds instead of seconds of numpy, scikit-learn and the speech engines.
    import logging

    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    import web
    from ivr import logs, store
    from ivr.call import maintenance, routing, transport, webhooks
    from ivr.config import load_config, refuse_dev_defaults
    from ivr.screening import commands, robocall
    from ivr.speech import engines, slots
    from ivr.triage import classifier

    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_config())
    app.config.update(overrides or {})
    logs.init_app(app)
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    refuse_dev_defaults(app.config)
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:    # only then: otherwise any client could name its own address in X-Forwarded-For
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

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

