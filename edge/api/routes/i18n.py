"""The operator pages' message catalogue, as a script in the language the browser asks for (edge.i18n)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response

from edge.i18n import CHINESE, catalogue, negotiate


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/editor/catalog.js")
    def page_catalogue(request: Request) -> Response:
        """`I18N = {lang, messages}`: loaded before the page's scripts, so every text lookup is synchronous.

        Public like the page itself: it holds the interface's texts, nothing of the box."""
        lang = negotiate(request.headers.get("accept-language"))
        data = {"lang": lang, "messages": catalogue() if lang == CHINESE else {}}
        script = f"const I18N = {json.dumps(data, ensure_ascii=False)};\n"
        headers = {"Vary": "Accept-Language", "Content-Language": lang}
        return Response(script, media_type="text/javascript; charset=utf-8", headers=headers)

    return r
