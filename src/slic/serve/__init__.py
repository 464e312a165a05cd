"""`slic serve`: the web page and HTTP API (`app`), the page itself in `static/index.html`."""
