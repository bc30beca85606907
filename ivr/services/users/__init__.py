"""Users of the console and the REST API: roles, hashed passwords, tokens, sessions."""

from .model import MIN_PASSWORD, Role, User, UserError
from .store import LoginLimit, LoginResult, Session, UserStore

__all__ = ["MIN_PASSWORD", "LoginLimit", "LoginResult", "Role", "Session", "User", "UserError",
           "UserStore"]
