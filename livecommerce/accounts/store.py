"""Account operations on SQL; plain functions taking an ``AsyncSession``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from livecommerce.accounts import handles
from livecommerce.accounts.schemas import UserOut
from livecommerce.auth.passwords import hash_password, verify_password
from livecommerce.db.models import Role, User
from livecommerce.errors import Conflict, Unauthorized

__all__ = ["authenticate", "create_user", "update_profile", "user_out"]

_DUMMY_HASH = hash_password("timing-equaliser")


async def create_user(
    db: AsyncSession,
    *,
    email: str,
    password: str,
    display_name: str,
    role: Role | str = Role.VIEWER,
    brand_id: int | None = None,
    shipping_address: dict[str, Any] | None = None,
    handle: str | None = None,
) -> User:
    """A new user; a host without ``handle`` gets one made from ``display_name``."""
    if handle is not None:
        handles.check_handle(handle)
        if not await handles.is_free(db, handle):
            raise handles.taken_error(handle)
    elif Role(role) == Role.HOST:
        handle = await handles.unique_handle(db, display_name)
    user = User(
        email=email.lower(),
        password_hash=hash_password(password),
        display_name=display_name,
        role=Role(role).value,
        brand_id=brand_id,
        shipping_address=shipping_address,
        handle=handle,
    )
    db.add(user)
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        raise Conflict(
            f"an account with email {email!r} already exists", code="email_taken"
        ) from None
    return user


async def authenticate(db: AsyncSession, email: str, password: str) -> User:
    user = await db.scalar(select(User).where(User.email == email.lower()))
    if user is None:
        verify_password(_DUMMY_HASH, password)  # same time whether or not the user exists
        raise Unauthorized("wrong email or password", code="bad_credentials")
    if not verify_password(user.password_hash, password) or not user.is_active:
        raise Unauthorized("wrong email or password", code="bad_credentials")
    return user


async def update_profile(
    db: AsyncSession, user: User, *, display_name: str | None, handle: str | None
) -> None:
    """Change the display name and/or the handle (422 malformed or reserved, 409 taken);
    the caller commits."""
    if display_name is not None:
        user.display_name = display_name
    if handle is not None and handle != user.handle:
        handles.check_handle(handle)
        if not await handles.is_free(db, handle, user_id=user.id):
            raise handles.taken_error(handle)
        user.handle = handle
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        raise handles.taken_error(handle or "") from None


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)
