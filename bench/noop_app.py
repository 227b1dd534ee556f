"""The ceiling: a FastAPI endpoint that parses the body and answers 202 without storing anything."""

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
