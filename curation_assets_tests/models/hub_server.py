"""A loopback HTTP server that speaks the part of the Hugging Face hub API that pulls use.

Endpoints, as ``huggingface_hub`` (2.x) calls them for ``HfApi.model_info`` and
``hf_hub_download`` (file_download.py, hf_api.py):

- ``GET /api/models/{org}/{name}/revision/{rev}`` (``?blobs=True``): id, sha, siblings with
  ``rfilename``, ``size``, ``blobId`` and, for LFS files, ``lfs: {sha256, size, pointerSize}``;
  cardData (licence) and tags;
- ``GET /api/models/{org}/{name}/tree/{rev}``: the same files as a tree listing;
- ``HEAD``/``GET /{org}/{name}/resolve/{rev}/{path}``: ``X-Repo-Commit``, ``ETag`` (LFS: the
  SHA-256; else the git blob id), ``X-Linked-Etag``/``X-Linked-Size`` for LFS files,
  ``Content-Length``, ``Accept-Ranges``; ``Range: bytes=N-`` answers 206 with
  ``Content-Range``. Unknown repos, revisions and files answer 404 with the hub's
  ``X-Error-Code`` so the client raises its usual errors.

``drop_once`` makes the first GET of a file send half of it and close the connection (a network
drop mid-download). Every request is logged with its headers.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    files: dict[str, bytes]
    lfs: set[str] = field(default_factory=set)  # served as LFS files (ETag = SHA-256)
    licence: str | None = "apache-2.0"
    commit: str = ""
    branches: dict[str, str] = field(default_factory=dict)  # name -> commit

    def __post_init__(self) -> None:
        if not self.commit:
            digest = hashlib.sha1()
            for name in sorted(self.files):
                digest.update(name.encode() + b"\0" + self.files[name])
            self.commit = digest.hexdigest()
        self.branches.setdefault("main", self.commit)

    @classmethod
    def from_folder(cls, folder: Path, lfs_min_bytes: int = 10_000, **kwargs) -> Repo:
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
        lfs = {name for name, data in files.items() if len(data) >= lfs_min_bytes}
        return cls(files=files, lfs=lfs, **kwargs)

    def sibling(self, name: str) -> dict:
        data = self.files[name]
        row = {"rfilename": name, "size": len(data), "blobId": git_blob_id(data)}
        if name in self.lfs:
            sha = hashlib.sha256(data).hexdigest()
            row["lfs"] = {"sha256": sha, "size": len(data), "pointerSize": 134}
        return row


@dataclass
class Logged:
    method: str
    path: str
    headers: dict[str, str]
    status: int = 0


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[Logged] = []
        self.drop_once: set[tuple[str, str]] = set()  # (repo_id, filename)
        self.connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut kept-alive connections (clients hold them open)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for conn in list(self.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.connections.clear()

    def gets(self, filename: str) -> list[Logged]:
        return [r for r in self.requests if r.method == "GET" and r.path.endswith(f"/{filename}")]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: FakeHub

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet
        pass

    def setup(self) -> None:
        super().setup()
        self.hub.connections.add(self.connection)

    def finish(self) -> None:
        self.hub.connections.discard(self.connection)
        super().finish()

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(head=False)

    # -- routing ------------------------------------------------------------------------------

    def _serve(self, head: bool) -> None:
        logged = Logged(self.command, self.path, dict(self.headers.items()))
        self.hub.requests.append(logged)
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/") if p]
        try:
            if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] == "revision":
                self._model_info(logged, f"{parts[2]}/{parts[3]}", parts[5])
            elif parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] == "tree":
                self._tree(logged, f"{parts[2]}/{parts[3]}", parts[5])
            elif len(parts) >= 5 and parts[2] == "resolve":
                self._resolve(logged, f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]), head)
            else:
                self._error(logged, 404, "RepoNotFound")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _repo(self, logged: Logged, repo_id: str, revision: str) -> Repo | None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error(logged, 404, "RepoNotFound")
            return None
        if revision != repo.commit and revision not in repo.branches:
            self._error(logged, 404, "RevisionNotFound")
            return None
        return repo

    def _model_info(self, logged: Logged, repo_id: str, revision: str) -> None:
        repo = self._repo(logged, repo_id, revision)
        if repo is None:
            return
        body = {
            "id": repo_id,
            "modelId": repo_id,
            "sha": repo.commit,
            "private": False,
            "tags": [f"license:{repo.licence}"] if repo.licence else [],
            "cardData": {"license": repo.licence} if repo.licence else {},
            "siblings": [repo.sibling(name) for name in sorted(repo.files)],
        }
        self._json(logged, body)

    def _tree(self, logged: Logged, repo_id: str, revision: str) -> None:
        repo = self._repo(logged, repo_id, revision)
        if repo is None:
            return
        rows = []
        for name in sorted(repo.files):
            sib = repo.sibling(name)
            row = {"type": "file", "path": name, "size": sib["size"], "oid": sib["blobId"]}
            if "lfs" in sib:
                row["lfs"] = {
                    "oid": sib["lfs"]["sha256"],
                    "size": sib["size"],
                    "pointerSize": 134,
                }
            rows.append(row)
        self._json(logged, rows)

    def _resolve(self, logged: Logged, repo_id: str, revision: str, name: str, head: bool) -> None:
        repo = self._repo(logged, repo_id, revision)
        if repo is None:
            return
        if name not in repo.files:
            self._error(logged, 404, "EntryNotFound", commit=repo.commit)
            return
        data = repo.files[name]
        sib = repo.sibling(name)
        etag = sib["lfs"]["sha256"] if "lfs" in sib else sib["blobId"]
        start, status = 0, 200
        ranged = self.headers.get("Range")
        if ranged and not head and ranged.startswith("bytes="):
            first = ranged[len("bytes=") :].split("-", 1)[0]
            start, status = int(first or 0), 206
        body = data[start:]
        logged.status = status
        self.send_response(status)
        self.send_header("X-Repo-Commit", repo.commit)
        self.send_header("ETag", f'"{etag}"')
        if "lfs" in sib:
            self.send_header("X-Linked-Etag", f'"{etag}"')
            self.send_header("X-Linked-Size", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        key = (repo_id, name)
        if key in self.hub.drop_once:
            self.hub.drop_once.discard(key)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    # -- answers ------------------------------------------------------------------------------

    def _json(self, logged: Logged, body) -> None:
        data = json.dumps(body).encode()
        logged.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, logged: Logged, status: int, code: str, commit: str | None = None) -> None:
        data = json.dumps({"error": code}).encode()
        logged.status = status
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
