"""The learn-lab's services: five TLS services, each with its own server name, address and behaviour.

Four are nginx virtual hosts (one address each, the server name in the certificate and the ClientHello); the
chat service is a small asyncio TLS server. Labels are what `sensor learn` derives from the SNI with the
shipped rules (no rule names these domains, so the fallback gives the registrable domain).
"""

NET = "10.77.6"  # lab slot 6's subnet, used only inside the namespaces this lab creates
CLIENT_IPS = [f"{NET}.{100 + i}" for i in range(40)]  # one source address per simulated user

SERVICES = [
    {"key": "pages", "name": "www.dailypages.com", "label": "dailypages.com", "ip": f"{NET}.10",
     "what": "a web page and 8-20 of its resources (CSS, JS, images) on one keep-alive connection"},
    {"key": "api", "name": "api.quickjson.net", "label": "quickjson.net", "ip": f"{NET}.11",
     "what": "6-20 API calls: small JSON answers, 20-150 ms apart, bearer token"},
    {"key": "downloads", "name": "dl.bigfiles.org", "label": "bigfiles.org", "ip": f"{NET}.12",
     "what": "one large download (1-6 MB)"},
    {"key": "video", "name": "media.streamvid.io", "label": "streamvid.io", "ip": f"{NET}.13",
     "what": "streaming-like: 4-10 consecutive range requests of 16-40 KB, 10-60 ms apart"},
    {"key": "chat", "name": "chat.talkapp.com", "label": "talkapp.com", "ip": f"{NET}.14",
     "what": "long-lived chat: small messages both ways for 2-5 s, server pushes (asyncio TLS server)"},
]
