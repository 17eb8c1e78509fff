"""Queries on control-room operators. Passwords are stored only as salted scrypt hashes (werkzeug)."""
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from ivr.store.models import Operator, utcnow

ROLES = ("operator", "admin")
MIN_PASSWORD_CHARS = 10
# Checked against when the name is unknown, so a login takes as long whether or not the name exists.
_DUMMY_HASH = generate_password_hash("not-a-real-password-0000")


def create(db, name, password, role="operator", phone=None):
    """Create an operator or reset an existing one's password, role and phone (E.164 or sip:, where callers
    they take from the hold queue are dialled); returns the stored operator."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password must have at least {MIN_PASSWORD_CHARS} characters")
    with db.session() as session:
        operator = session.scalar(select(Operator).where(Operator.name == name))
        if operator is None:
            operator = Operator(name=name)
            session.add(operator)
        else:
            operator.session_epoch += 1     # a new password signs out every session of the old one
        operator.password_hash, operator.role, operator.active = generate_password_hash(password), role, True
        operator.phone = phone
        return operator


def authenticate(db, name, password):
    """The active operator with this name and password, or None; the slow hash check holds no transaction."""
    with db.reader() as session:
        operator = session.scalar(select(Operator).where(Operator.name == name, Operator.active.is_(True)))
    if operator is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(operator.password_hash, password):
        return None
    with db.session() as session:       # a short write of its own: SQLite's lock never waits on scrypt
        session.execute(update(Operator).where(Operator.id == operator.id).values(last_login_at=utcnow()))
    return operator


def get(db, operator_id):
    with db.reader() as session:
        return session.get(Operator, operator_id)


def count(db):
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(Operator))


def deactivate(db, name):
    """Disable an operator and revoke their sessions; False when there is no such operator."""
    with db.session() as session:
        return session.execute(update(Operator).where(Operator.name == name).values(
            active=False, session_epoch=Operator.session_epoch + 1)).rowcount > 0


def revoke_sessions(db, operator_id):
    """Every session cookie signed so far for this operator stops working (logout)."""
    with db.session() as session:
        session.execute(update(Operator).where(Operator.id == operator_id).values(
            session_epoch=Operator.session_epoch + 1))


def session_valid(operator, epoch):
    """Whether a session cookie carrying EPOCH still signs in OPERATOR."""
    return operator is not None and operator.active and operator.session_epoch == epoch
