"""`slic serve`: the web page and HTTP API on uvicorn (slic.serve)."""

from __future__ import annotations

import ipaddress
import logging

from .args import positive_int

log = logging.getLogger("slic")


def add_commands(sub) -> None:
    p = sub.add_parser("serve", help="a web page and HTTP API for encode, decode and re-compress",
                       description="Start the SLIC web app (FastAPI on uvicorn). The API is documented at /docs.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    p.add_argument("--port", type=positive_int, default=8000)
    p.add_argument("--model", help="default model (default: slic-default)")
    p.add_argument("--workers", type=positive_int, default=1, help="inference threads (default 1)")
    p.add_argument("--queue", type=int, default=8, help="requests that may wait for a worker; more get 503 (default 8)")
    p.add_argument("--max-upload-mb", type=positive_int, default=25, help="upload size limit (default 25 MB)")
    p.add_argument("--max-pixels", type=positive_int, default=None, help="pixel budget (default: the CLI's)")
    p.set_defaults(func=cmd_serve)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args) -> int:
    from ..errors import InputError

    try:
        import uvicorn

        from ..serve.app import MB, ServeConfig, create_app
    except ImportError as exc:
        raise InputError(f"slic serve needs the web extras ({exc.name} is missing): pip install 'slic[serve]'") from None

    if args.queue < 0:
        raise InputError("--queue must be 0 or more")
    if not _is_loopback(args.host):
        log.warning("binding %s: the server has no authentication; anyone who can reach it can use it", args.host)
    app = create_app(ServeConfig(model=args.model, workers=args.workers, queue=args.queue,
                                 max_upload_bytes=args.max_upload_mb * MB, max_pixels=args.max_pixels))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
