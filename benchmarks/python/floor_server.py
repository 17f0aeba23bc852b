"""The floor of a worker's start: a bare Python process that imports grpc and serves on a Unix socket.

Usage: floor_server.py SOCKET. Prints "ready" once the server listens; stops at EOF on stdin.
"""

import sys
from concurrent import futures

import grpc


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_insecure_port("unix:" + sys.argv[1])
    server.start()
    print("ready", flush=True)
    sys.stdin.read()
    server.stop(0)


if __name__ == "__main__":
    main()
