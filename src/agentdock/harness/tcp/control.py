"""The TCP fault proxy's HTTP control API (Toxiproxy's shape), as a Starlette app.

Every request needs ``Authorization: Bearer <token>``.

=======  ==================================  ===============================================
GET      /version                            ``{"version": ...}``
GET      /toxics                             the toxic types and their default attributes
GET      /proxies                            every proxy by name
POST     /proxies                            create ``{"name", "listen", "upstream", "enabled"}``
GET      /proxies/{name}                     one proxy
POST     /proxies/{name}                     update ``{"enabled": bool}``
DELETE   /proxies/{name}                     stop and remove it
GET      /proxies/{name}/toxics              its toxics
POST     /proxies/{name}/toxics              add a toxic (JSON form of :mod:`~agentdock.harness.tcp.toxics`)
GET      /proxies/{name}/toxics/{toxic}      one toxic
POST     /proxies/{name}/toxics/{toxic}      replace a toxic's settings
DELETE   /proxies/{name}/toxics/{toxic}      remove it
POST     /proxies/{name}/reset               drop its live connections
POST     /reset                              enable every proxy, remove every toxic
=======  ==================================  ===============================================
"""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agentdock import __version__
from agentdock.harness.errors import ProxyConfigError, ToxicError
from agentdock.harness.httpserver import AsgiServer
from agentdock.harness.tcp.proxy import ProxySet
from agentdock.harness.tcp.toxics import TOXICS, toxic_from_dict

__all__ = ["control_app", "control_server"]

Handler = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise ToxicError(f"request body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ToxicError("request body must be a JSON object")
    return data


def control_app(proxies: ProxySet, *, token: str) -> Starlette:
    """The control API over ``proxies``, guarded by ``token``."""

    def guarded(handler: Handler) -> Handler:
        async def wrapper(request: Request) -> Response:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return _error(401, "missing or wrong bearer token")
            try:
                return await handler(request)
            except ToxicError as exc:
                return _error(400, str(exc))
            except ProxyConfigError as exc:
                text = str(exc)
                status = 404 if text.startswith("no proxy") or "has no toxic" in text else 409
                return _error(status, text)

        return wrapper

    async def version(request: Request) -> Response:
        return JSONResponse({"version": __version__, "server": "agentdock-faults-proxy"})

    async def toxic_types(request: Request) -> Response:
        out = {}
        for name, cls in sorted(TOXICS.items()):
            out[name] = {"summary": cls.summary, "attributes": cls().attributes()}
        return JSONResponse(out)

    async def list_proxies(request: Request) -> Response:
        if request.method == "POST":
            data = await _body(request)
            missing = [k for k in ("name", "listen", "upstream") if not isinstance(data.get(k), str)]
            if missing:
                return _error(400, f"missing or non-string field(s) {missing}")
            proxy = await proxies.create(
                data["name"],
                listen=data["listen"],
                upstream=data["upstream"],
                enabled=bool(data.get("enabled", True)),
            )
            return JSONResponse(proxy.to_dict(), status_code=201)
        return JSONResponse({name: p.to_dict() for name, p in proxies.proxies.items()})

    async def one_proxy(request: Request) -> Response:
        name = request.path_params["name"]
        proxy = proxies.get(name)
        if request.method == "DELETE":
            await proxies.delete(name)
            return Response(status_code=204)
        if request.method == "POST":
            data = await _body(request)
            if "enabled" in data:
                if not isinstance(data["enabled"], bool):
                    return _error(400, "enabled must be true or false")
                await proxy.set_enabled(data["enabled"])
        return JSONResponse(proxy.to_dict())

    async def reset_proxy(request: Request) -> Response:
        await proxies.get(request.path_params["name"]).reset_connections()
        return Response(status_code=204)

    async def toxics(request: Request) -> Response:
        proxy = proxies.get(request.path_params["name"])
        if request.method == "POST":
            toxic = proxy.add_toxic(toxic_from_dict(await _body(request)))
            return JSONResponse(toxic.to_dict(), status_code=201)
        return JSONResponse([t.to_dict() for t in proxy.toxics])

    async def one_toxic(request: Request) -> Response:
        proxy = proxies.get(request.path_params["name"])
        toxic_name = request.path_params["toxic"]
        current = {t.name: t for t in proxy.toxics}.get(toxic_name)
        if current is None:
            raise ProxyConfigError(f"proxy {proxy.name!r} has no toxic named {toxic_name!r}")
        if request.method == "DELETE":
            proxy.remove_toxic(toxic_name)
            return Response(status_code=204)
        if request.method == "POST":
            data = await _body(request)
            merged = current.to_dict()
            merged["attributes"] = {**merged["attributes"], **(data.pop("attributes", None) or {})}
            merged.update({k: v for k, v in data.items() if k != "name"})
            updated = proxy.update_toxic(toxic_from_dict(merged))
            return JSONResponse(updated.to_dict())
        return JSONResponse(current.to_dict())

    async def reset(request: Request) -> Response:
        await proxies.reset()
        return Response(status_code=204)

    routes = [
        Route("/version", guarded(version), methods=["GET"]),
        Route("/toxics", guarded(toxic_types), methods=["GET"]),
        Route("/proxies", guarded(list_proxies), methods=["GET", "POST"]),
        Route("/proxies/{name}", guarded(one_proxy), methods=["GET", "POST", "DELETE"]),
        Route("/proxies/{name}/reset", guarded(reset_proxy), methods=["POST"]),
        Route("/proxies/{name}/toxics", guarded(toxics), methods=["GET", "POST"]),
        Route("/proxies/{name}/toxics/{toxic}", guarded(one_toxic), methods=["GET", "POST", "DELETE"]),
        Route("/reset", guarded(reset), methods=["POST"]),
    ]
    return Starlette(routes=routes)


@asynccontextmanager
async def control_server(
    proxies: ProxySet, *, token: str, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[AsgiServer]:
    """Serve the control API for ``proxies`` until the block ends."""
    async with AsgiServer(control_app(proxies, token=token), host, port) as server:
        yield server
