"""``bicameral ui``: a local web page over the run log. Runs list, run timelines, approval
of paused tool calls, new runs with live events. Served by the project (aiohttp), with its
own static files: nothing is fetched from the internet.

``server`` routes requests, ``security`` guards them (loopback by default, a token on any
other address, cross-site request protection), ``runner`` starts and resumes runs.
"""
