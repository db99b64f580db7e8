"""HTTP adapters for accounts."""

from __future__ import annotations

from livecommerce import keys
from livecommerce.accounts import store
from livecommerce.accounts.payment_methods import (
    list_methods,
    method_out,
    remove_method,
    set_default,
)
from livecommerce.accounts.schemas import (
    Address,
    LoginIn,
    MePatch,
    PaymentMethodOut,
    PaymentMethodPatch,
    SignupIn,
    TokenOut,
    UserOut,
)
from livecommerce.api.routing import Api, Call
from livecommerce.db.models import User
from livecommerce.errors import NotFound
from livecommerce.events import HandleChanged
from livecommerce.http.throttle import Window, admit
from livecommerce.services import Services

__all__ = ["api"]

api: Api[Services] = Api(tags=["accounts"])


def _address(call: Call) -> str:
    # uvicorn puts the proxy's X-Forwarded-For here when the proxy is trusted.
    client = call.request.client
    return client.host if client is not None else "unknown"


def _now_ms(services: Services) -> int:
    return int(services.clock() * 1000)


def _token(services: Services, user: User) -> TokenOut:
    tokens = services.tokens
    return TokenOut(
        token=tokens.issue(user.id, user.role, brand_id=user.brand_id),
        expires_in=tokens.ttl_s,
        user=store.user_out(user),
    )


@api.route(
    "POST",
    "/api/auth/signup",
    summary="Create a viewer or host account",
    body=SignupIn,
    response=TokenOut,
    status=201,
    errors=[409, 429],
)
async def signup(services: Services, call: Call) -> TokenOut:
    body = call.body_as(SignupIn)
    settings = services.settings
    await admit(
        services.mux,
        [
            Window(
                keys.throttle_signup_address(_address(call)),
                settings.auth_signup_attempts,
                settings.auth_signup_window_s,
            )
        ],
        now_ms=_now_ms(services),
    )
    async with services.db.sessions() as db:
        user = await store.create_user(
            db,
            email=body.email,
            password=body.password,
            display_name=body.display_name,
            role=body.role,
            handle=body.handle,
        )
        await db.commit()
    return _token(services, user)


@api.route(
    "POST",
    "/api/auth/login",
    summary="Exchange email and password for a bearer token",
    body=LoginIn,
    response=TokenOut,
    errors=[401, 429],
)
async def login(services: Services, call: Call) -> TokenOut:
    body = call.body_as(LoginIn)
    settings = services.settings
    # Known or unknown, an e-mail address has its window, and authenticate() checks a
    # password against a hash either way: the answers cost the same (no enumeration).
    admission = await admit(
        services.mux,
        [
            Window(
                keys.throttle_login_account(body.email),
                settings.auth_account_attempts,
                settings.auth_window_s,
            ),
            Window(
                keys.throttle_login_address(_address(call)),
                settings.auth_address_attempts,
                settings.auth_window_s,
            ),
        ],
        now_ms=_now_ms(services),
    )
    async with services.db.sessions() as db:
        user = await store.authenticate(db, body.email, body.password)
    # Only failures count against the account: the owner signing in gives it back.
    await admission.release()
    return _token(services, user)


@api.route("GET", "/api/me", summary="The signed-in user", response=UserOut, auth="required")
async def me(services: Services, call: Call) -> UserOut:
    user_id = call.principal.require_user()
    async with services.db.sessions() as db:
        user = await db.get(User, user_id)
    if user is None:
        raise NotFound("this account no longer exists")
    return store.user_out(user)


@api.route(
    "PATCH",
    "/api/me",
    summary="Change your display name and/or handle (only the fields sent change)",
    body=MePatch,
    response=UserOut,
    auth="required",
    errors=[404, 409, 422],
)
async def patch_me(services: Services, call: Call) -> UserOut:
    user_id = call.principal.require_user()
    body = call.body_as(MePatch)
    async with services.db.sessions() as db:
        user = await db.get(User, user_id)
        if user is None:
            raise NotFound("this account no longer exists")
        before = user.handle
        await store.update_profile(db, user, display_name=body.display_name, handle=body.handle)
        await db.commit()
    if user.handle is not None and user.handle != before:
        # share links to the showcase redirect to the new /@<handle> at once
        await services.events.publish(HandleChanged(user.id, user.handle))
    return store.user_out(user)


@api.route(
    "PUT",
    "/api/me/address",
    summary="Save the shipping address used by one-tap checkout",
    body=Address,
    response=UserOut,
    auth="required",
)
async def put_address(services: Services, call: Call) -> UserOut:
    user_id = call.principal.require_user()
    async with services.db.sessions() as db:
        user = await db.get(User, user_id)
        if user is None:
            raise NotFound("this account no longer exists")
        user.shipping_address = call.body_as(Address).model_dump()
        await db.commit()
    return store.user_out(user)


@api.route(
    "GET",
    "/api/me/payment-methods",
    summary="Saved payment methods",
    response=list[PaymentMethodOut],
    auth="required",
)
async def payment_methods(services: Services, call: Call) -> list[PaymentMethodOut]:
    user_id = call.principal.require_user()
    async with services.db.sessions() as db:
        return await list_methods(db, user_id)


@api.route(
    "PATCH",
    "/api/me/payment-methods/{method_id:int}",
    summary="Choose your default payment method (another user's id is a 404)",
    body=PaymentMethodPatch,
    response=PaymentMethodOut,
    auth="required",
    errors=[404],
)
async def patch_payment_method(services: Services, call: Call) -> PaymentMethodOut:
    user_id = call.principal.require_user()
    body = call.body_as(PaymentMethodPatch)
    async with services.db.sessions() as db:
        method = await set_default(db, user_id, call.id("method_id"), is_default=body.is_default)
        await db.commit()
        return method_out(method)


@api.route(
    "DELETE",
    "/api/me/payment-methods/{method_id:int}",
    summary="Remove a saved payment method (another user's id is a 404)",
    status=204,
    auth="required",
    errors=[404],
)
async def delete_payment_method(services: Services, call: Call) -> None:
    user_id = call.principal.require_user()
    async with services.db.sessions() as db:
        await remove_method(db, user_id, call.id("method_id"))
        await db.commit()
