#!/usr/bin/env python3
"""The lab's chat server: TLS, line messages; each client message gets a short ack, and the server pushes
presence/messages of 30-300 bytes every 100-500 ms while the client stays."""
import asyncio
import random
import ssl
import sys


async def handle(reader, writer):
    rng = random.Random()
    alive = True

    async def push():
        while alive:
            await asyncio.sleep(rng.uniform(0.1, 0.5))
            try:
                writer.write(b"EVT " + bytes(rng.choice(b"abcdefghij") for _ in range(rng.randint(30, 300))) + b"\n")
                await writer.drain()
            except (ConnectionError, RuntimeError):
                return

    task = asyncio.create_task(push())
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(b"ACK " + str(rng.randint(1, 10**9)).encode() + b"\n")
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        alive = False
        task.cancel()
        try:
            writer.close()
        except Exception:
            pass


async def main(ip, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = await asyncio.start_server(handle, ip, 443, ssl=ctx)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
