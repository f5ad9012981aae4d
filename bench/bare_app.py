"""The reference for bench/ticket_drop.py: a Flask endpoint at the registration URL that reads
the JSON body and answers 201, with no database, served by the same gunicorn settings."""

from flask import Flask, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/api/registration/events/<event_id>/registrations")
    def register(event_id):
        return {"id": event_id, "status": "ok", "echo": request.get_json()}, 201

    return app
