"""Forms of the sign-in pages (Flask-WTF: every one carries a CSRF token)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from app.services.team import PASSWORD_MAX, PASSWORD_MIN


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), Length(max=254)],
                       render_kw={"autocomplete": "username", "spellcheck": "false", "autofocus": True})
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=PASSWORD_MAX)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField("Keep me signed in on this device")
    next = HiddenField()


class ForgotForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), Length(max=254)],
                       render_kw={"autocomplete": "username", "spellcheck": "false", "autofocus": True})


class ResetForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a password."),
                    Length(min=PASSWORD_MIN, max=PASSWORD_MAX, message=f"Use at least {PASSWORD_MIN} characters.")],
        description=f"At least {PASSWORD_MIN} characters. A few unrelated words make a strong one.",
        render_kw={"autocomplete": "new-password", "autofocus": True})
    confirm = PasswordField("Type it again",
                            validators=[DataRequired("Type the password again."),
                                        EqualTo("password", "The two passwords are not the same.")],
                            render_kw={"autocomplete": "new-password"})
