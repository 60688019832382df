"""A front for moto on 127.0.0.1, one port per AWS service, as real AWS has one host per service:
with --cert and --key it terminates TLS (the https transport of bench.py), without them it only
forwards (a control that tells what TLS costs from what the front itself costs).

It speaks HTTP/1.1 keep-alive to its clients, as AWS does: moto's server closes every connection
after one response, which would make a client open (and handshake) a connection per call. Each
request goes to moto on a connection of its own, on the loopback.

Prints `listening PORT...` once, then `connection PORT` each time a client has connected (after
its handshake), so that bench.py can count the connections each process opens. TCP_NODELAY on
both sides: without it, Nagle and delayed ACK add ~40 ms per exchange. No session tickets: every
connection pays a full handshake, as the first connection to each host of a cold start does.

A client closing its connection is the normal end and is not reported; anything else (a failed
handshake, moto unreachable, a request it cannot forward) is printed on stderr.
"""

import argparse
import asyncio
import socket
import ssl
import sys

# How a connection ends when its client closes it or the process is killed mid-exchange.
DISCONNECTS = (ConnectionError, TimeoutError, ssl.SSLEOFError, ssl.SSLZeroReturnError)


def nodelay(writer):
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def say(line):
    print(line, flush=True)


def complain(line):
    print(f"tls front: {line}", file=sys.stderr, flush=True)


async def read_message_head(reader):
    """The start line and headers of one HTTP/1.1 message, or None at a clean end of stream."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as err:
        if err.partial:
            raise
        return None


def headers_of(head):
    lines = head.decode("latin-1").split("\r\n")
    return lines[0], [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:] if ":" in line]


async def exchange(head, body, upstream):
    """One request on a connection of its own to moto, read to its end (moto's server closes
    every connection after one response)."""
    up_reader, up_writer = await asyncio.open_connection(*upstream)
    nodelay(up_writer)
    try:
        up_writer.write(head + body)
        # The end of the request, said: werkzeug otherwise waits 10 ms for more before it closes.
        up_writer.write_eof()
        await up_writer.drain()
        return await up_reader.read()
    finally:
        up_writer.close()


def keep_alive(response):
    """The response without moto's `Connection: close`, so that the client keeps its connection,
    as it does with AWS."""
    head, _, body = response.partition(b"\r\n\r\n")
    status, headers = headers_of(head)
    names = {name.lower() for name, _ in headers}
    kept = [f"{name}: {value}" for name, value in headers if name.lower() != "connection"]
    if "content-length" not in names and "transfer-encoding" not in names:
        kept.append(f"Content-Length: {len(body)}")
    return ("\r\n".join([status, *kept]) + "\r\n\r\n").encode("latin-1") + body


def front(context, upstream):
    async def serve(reader, writer):
        port = writer.get_extra_info("sockname")[1]
        nodelay(writer)
        try:
            if context:
                # Before any other await: the ClientHello must not be read as plain data.
                await writer.start_tls(context)
        except DISCONNECTS:
            writer.close()
            return
        except (ssl.SSLError, OSError) as err:
            complain(f"TLS handshake on port {port} failed: {err!r}")
            writer.close()
            return
        say(f"connection {port}")
        try:
            while head := await read_message_head(reader):
                _, headers = headers_of(head)
                fields = {name.lower(): value for name, value in headers}
                if "chunked" in fields.get("transfer-encoding", "").lower():
                    complain(f"port {port}: a chunked request body is not supported here")
                    break
                body = await reader.readexactly(int(fields.get("content-length", 0)))
                try:
                    response = await exchange(head, body, upstream)
                except OSError as err:
                    complain(f"cannot reach moto at {upstream[0]}:{upstream[1]}: {err!r}")
                    break
                writer.write(keep_alive(response))
                await writer.drain()
                if fields.get("connection", "").lower() == "close":
                    break
        except DISCONNECTS + (asyncio.IncompleteReadError,):
            pass
        except Exception as err:  # noqa: BLE001 - a bench tool: report it, keep serving
            complain(f"port {port}: {err!r}")
        finally:
            writer.close()

    return serve


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True, help="moto's port on 127.0.0.1")
    parser.add_argument("--ports", type=int, default=3, help="how many ports to listen on")
    parser.add_argument("--cert", help="certificate chain (PEM); without it, no TLS")
    parser.add_argument("--key", help="the certificate's private key (PEM)")
    args = parser.parse_args()
    context = None
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        context.num_tickets = 0
        context.options |= ssl.OP_NO_TICKET
    serve = front(context, ("127.0.0.1", int(args.upstream)))
    servers = [await asyncio.start_server(serve, "127.0.0.1", 0) for _ in range(args.ports)]
    say("listening " + " ".join(str(s.sockets[0].getsockname()[1]) for s in servers))
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    if sys.version_info < (3, 11):
        sys.exit("tls front: needs Python 3.11 or later (asyncio's StreamWriter.start_tls)")
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
