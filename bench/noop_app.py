"""The ceilings: FastAPI endpoints that answer without storing or reading anything."""

import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/v2/enqueue")
async def enqueue(request: Request) -> JSONResponse:
    body = json.loads(await request.body())
    return JSONResponse(
        {"status": "success", "message": "Event processed", "dedup_key": body.get("dedup_key")}, 202
    )


@app.get("/noop.json")
async def noop() -> JSONResponse:
    """The ceiling for GETs (bench/statuspage.py): routing and an answer, nothing else."""
    return JSONResponse({"status": "ok"})
