"""The FastAPI app of the lab: the UC admin contract (``/api/v1``) and lab controls (``/lab``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

if TYPE_CHECKING:
    from include.lab.server import Lab

_basic = HTTPBasic()


def build_app(lab: Lab) -> FastAPI:
    from include.lab.server import LabConflict

    app = FastAPI(title="DI lab: UC admin API", version="1")

    def authenticated(credentials: Annotated[HTTPBasicCredentials, Depends(_basic)]) -> str:
        if not lab.check_login(credentials.username, credentials.password):
            raise HTTPException(401, "bad credentials", headers={"WWW-Authenticate": "Basic"})
        return credentials.username

    api = APIRouter(dependencies=[Depends(authenticated)])

    def _sso(cluster_id: str, step: str, body: bytes = b"") -> dict[str, Any]:
        try:
            return lab.sso_step(cluster_id, step, body)
        except KeyError as exc:
            raise HTTPException(404, str(exc)) from exc
        except LabConflict as exc:
            raise HTTPException(409, str(exc)) from exc
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc

    @app.get("/api/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/api/v1/nodes/{node_id}/certificate")
    def certificate(node_id: str) -> dict[str, Any]:
        try:
            return lab.certificate(node_id)
        except KeyError as exc:
            raise HTTPException(404, str(exc)) from exc

    @api.post("/api/v1/nodes/{node_id}/certificate/renew")
    def renew(
        node_id: str, idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None
    ) -> dict[str, Any]:
        try:
            return lab.renew(node_id, idempotency_key)
        except KeyError as exc:
            raise HTTPException(404, str(exc)) from exc
        except RuntimeError as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from exc

    @api.get("/api/v1/clusters/{cluster_id}/sso")
    def sso_state(cluster_id: str) -> dict[str, Any]:
        if cluster_id not in lab.sso:
            raise HTTPException(404, f"unknown cluster {cluster_id!r}")
        return lab.sso[cluster_id].public(cluster_id)

    @api.post("/api/v1/clusters/{cluster_id}/sso/disable")
    def sso_disable(cluster_id: str) -> dict[str, Any]:
        return _sso(cluster_id, "disable")

    @api.put("/api/v1/clusters/{cluster_id}/sso/idp-metadata")
    async def sso_import(cluster_id: str, request: Request) -> dict[str, Any]:
        return _sso(cluster_id, "import", await request.body())

    @api.post("/api/v1/clusters/{cluster_id}/sso/enable")
    def sso_enable(cluster_id: str) -> dict[str, Any]:
        return _sso(cluster_id, "enable")

    @api.post("/api/v1/clusters/{cluster_id}/sso/validate")
    def sso_validate(cluster_id: str) -> dict[str, Any]:
        return _sso(cluster_id, "validate")

    @api.get("/api/v1/customers/{customer_id}/capacity")
    def capacity(customer_id: str) -> dict[str, Any]:
        counts = lab.capacity.get(customer_id)
        if counts is None:
            raise HTTPException(404, f"unknown customer {customer_id!r}")
        return {
            "customer_id": customer_id,
            "users": counts["users"],
            "devices": counts["devices"],
            "counted_at": lab.clock().replace(microsecond=0).isoformat(),
        }

    # --- lab controls (not part of the UC admin contract) ---------------------------------------

    @api.put("/lab/capacity")
    def put_capacity(body: dict[str, Any]) -> dict[str, Any]:
        try:
            counts = {str(cid): {"users": int(c["users"]), "devices": int(c["devices"])} for cid, c in body.items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise HTTPException(422, f"give {{customer_id: {{users, devices}}}} with whole numbers: {exc}") from exc
        if any(n < 0 for c in counts.values() for n in c.values()):
            raise HTTPException(422, "counts must not be negative")
        lab.capacity.update(counts)
        return lab.capacity

    @api.post("/lab/faults")
    def faults(body: dict[str, Any]) -> dict[str, Any]:
        for node_id, times in (body.get("refuse_renewal") or {}).items():
            lab.faults.refuse_renewal[node_id] = int(times)
        for cluster_id in body.get("fail_sso_validation") or []:
            lab.faults.fail_sso_validation.add(cluster_id)
        for node_id in body.get("down") or []:
            lab.take_down(node_id)
        return {
            "refuse_renewal": lab.faults.refuse_renewal,
            "fail_sso_validation": sorted(lab.faults.fail_sso_validation),
        }

    @api.get("/lab/history")
    def history() -> list[dict[str, str]]:
        return list(lab.history)

    @api.get("/lab/clock")
    def get_clock() -> dict[str, Any]:
        return {"now": lab.clock().isoformat(), "real": lab.clock_is_real}

    @api.put("/lab/clock")
    def put_clock(body: dict[str, Any]) -> dict[str, Any]:
        from datetime import datetime

        value = body.get("now")
        try:
            lab.set_clock(None if value is None else datetime.fromisoformat(str(value).replace("Z", "+00:00")))
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        return {"now": lab.clock().isoformat(), "real": lab.clock_is_real}

    @api.get("/lab/endpoints")
    def endpoints() -> dict[str, str]:
        return lab.endpoints

    app.include_router(api)
    return app
