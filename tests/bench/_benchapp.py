"""The app as gunicorn serves it in production, plus one trivial route used as the benchmarks' baseline.

    gunicorn -k gthread --workers 2 --threads 16 'tests.bench._benchapp:create()'

Configuration comes from the environment exactly as for `ivr:create_app()`.
"""
import os

from ivr import create_app

TRIVIAL_PATH = "/bench/trivial"


def trivial():
    """The smallest useful answer: which worker served it (a few bytes, no database, no signature check)."""
    return str(os.getpid())


def create():
    app = create_app()
    app.add_url_rule(TRIVIAL_PATH, "bench_trivial", trivial, methods=["POST"])
    return app
