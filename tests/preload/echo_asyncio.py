#!/usr/bin/python3
"""An asyncio echo server (epoll underneath): echoes each connection until
the client half-closes, then closes. Usage: echo_asyncio.py PORT"""
import asyncio
import sys


async def echo(reader, writer):
    while True:
        b = await reader.read(65536)
        if not b:
            break
        writer.write(b)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main():
    srv = await asyncio.start_server(echo, "0.0.0.0", int(sys.argv[1]))
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
