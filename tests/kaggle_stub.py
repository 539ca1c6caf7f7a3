"""A loopback stand-in for the Kaggle API, to test the real kaggle CLI (DESIGN.md: "Kaggle image and CLI").

    with KaggleStub(existing_datasets={"tester/arenakit-wheels"}) as stub:
        subprocess.run(["kaggle", "kernels", "push", "-p", folder], env={**os.environ, **stub.env})
    stub.bodies("SaveKernel")        # the JSON bodies the CLI sent, in order
    stub.uploaded_names()            # the file names of every blob upload
    stub.downloads                   # the paths of every file the CLI downloaded (GET)
    stub.log_reads()                 # the kernels whose log `kaggle kernels logs` read, in order
    stub.output_listings()           # the kernels whose output files `kaggle kernels output` listed

With KAGGLE_API_ENVIRONMENT=LOCALHOST the CLI posts to http://localhost/api/v1/<Service>/<Rpc>; with
HTTP_PROXY pointing here, those requests (and the blob uploads to the URLs this stub hands out)
arrive at this server, which records them and answers as Kaggle does for the calls push makes.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class KaggleStub:
    def __init__(
        self,
        existing_datasets=(),
        kernel_states: dict | None = None,
        kernel_push_error: str = "",
        kernel_failures: dict | None = None,
        kernel_logs: dict | None = None,
        kernel_files: dict | None = None,
        missing_kernels=(),
    ):
        self.datasets = set(existing_datasets)
        # kernel ref -> statuses answered one after the other (the last one repeats); default COMPLETE
        self.kernel_states = {ref: list(states) for ref, states in (kernel_states or {}).items()}
        self.kernel_push_error = kernel_push_error
        self.kernel_failures = dict(kernel_failures or {})  # kernel ref -> failureMessage of its status
        self.kernel_logs = dict(kernel_logs or {})  # kernel ref -> the log text of its latest run
        self.kernel_files = dict(kernel_files or {})  # kernel ref -> {output file name: bytes}
        self.missing_kernels = set(missing_kernels)  # refs Kaggle does not know (404)
        self.downloads: list[str] = []
        self.calls: list[tuple[str, dict]] = []  # (rpc name, JSON body)
        self.headers: list[dict] = []
        self.uploads: dict[str, dict] = {}  # token -> {"name", "data"}
        self.kernel_versions: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- what the tests read
    def rpcs(self) -> list[str]:
        return [rpc for rpc, _ in self.calls]

    def bodies(self, rpc: str) -> list[dict]:
        return [body for name, body in self.calls if name == rpc]

    # `kaggle kernels logs OWNER/SLUG` (CLI 2.0.2+) and `kaggle kernels output` both call
    # ListKernelSessionOutput, whose answer holds the log and the output files; `logs` asks for no
    # page of files (no pageSize), `output` pages through them (pageSize 20) to download each.
    def log_reads(self) -> list[str]:
        return [
            f"{b['userName']}/{b['kernelSlug']}" for b in self.bodies("ListKernelSessionOutput") if "pageSize" not in b
        ]

    def output_listings(self) -> list[str]:
        return [f"{b['userName']}/{b['kernelSlug']}" for b in self.bodies("ListKernelSessionOutput") if "pageSize" in b]

    def uploaded_names(self, tokens=None) -> list[str]:
        return sorted(upload["name"] for token, upload in self.uploads.items() if tokens is None or token in tokens)

    @property
    def env(self) -> dict:
        proxy = f"http://127.0.0.1:{self.server.server_address[1]}"
        return {
            "KAGGLE_API_ENVIRONMENT": "LOCALHOST",
            "HTTP_PROXY": proxy,
            "http_proxy": proxy,
            "NO_PROXY": "",
            "no_proxy": "",
        }

    # -- server
    def __enter__(self) -> KaggleStub:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, rpc: str, body: dict) -> tuple[int, dict]:
        with self._lock:
            self.calls.append((rpc, body))
            return self._answer(rpc, body)

    def _answer(self, rpc: str, body: dict) -> tuple[int, dict]:
        if rpc == "GetDatasetStatus":
            ref = f"{body['ownerSlug']}/{body['datasetSlug']}"
            return (200, {"status": "READY"}) if ref in self.datasets else (404, {"code": 404, "message": "Not found"})
        if rpc == "StartBlobUpload":
            token = f"token-{len(self.uploads)}"
            self.uploads[token] = {"name": body["name"], "data": None}
            return 200, {"token": token, "createUrl": f"http://localhost/upload/{token}"}
        if rpc in ("CreateDataset", "CreateDatasetVersion"):
            owner = body.get("ownerSlug")
            slug = body.get("slug") or body.get("datasetSlug")
            self.datasets.add(f"{owner}/{slug}")
            return 200, {"ref": f"{owner}/{slug}", "url": f"http://localhost/datasets/{owner}/{slug}", "status": "ok"}
        if rpc == "SaveKernel":
            ref = body["slug"]
            if self.kernel_push_error:
                return 200, {"error": self.kernel_push_error}
            self.kernel_versions[ref] = self.kernel_versions.get(ref, 0) + 1
            return 200, {
                "ref": f"/code/{ref}",
                "url": f"http://localhost/code/{ref}",
                "versionNumber": self.kernel_versions[ref],
            }
        if rpc in ("GetKernelSessionStatus", "ListKernelSessionOutput"):
            ref = f"{body['userName']}/{body['kernelSlug']}"
            if ref in self.missing_kernels:
                return 404, {"code": 404, "message": "Not found"}
        if rpc == "GetKernelSessionStatus":
            states = self.kernel_states.get(ref, ["COMPLETE"])
            answer = {"status": states.pop(0) if len(states) > 1 else states[0]}
            return 200, {
                **answer,
                **({"failureMessage": self.kernel_failures[ref]} if ref in self.kernel_failures else {}),
            }
        if rpc == "ListKernelSessionOutput":
            log = {"log": self.kernel_logs.get(ref, "")}
            if "pageSize" not in body:  # `kernels logs`: Kaggle answers the log; the files are not asked for
                return 200, log
            files = [
                {"url": f"http://localhost/output/{ref}/{name}", "fileName": name}
                for name in self.kernel_files.get(ref, {})
            ]
            return 200, {"files": files, **log}
        if rpc == "CreateCodeSubmission":
            return 200, {"message": "Your submission was successfully saved", "ref": 4242}
        return 404, {"code": 404, "message": f"the stub does not answer {rpc}"}


def _handler(stub: KaggleStub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    if not size:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _reply(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            path = urlsplit(self.path).path
            stub.headers.append(dict(self.headers))
            self._reply(*stub.answer(path.rsplit("/", 1)[-1], json.loads(self._body() or b"{}")))

        def do_GET(self):
            path = urlsplit(self.path).path
            owner, slug, name = path.removeprefix("/output/").split("/", 2)
            with stub._lock:
                stub.downloads.append(path)
                data = stub.kernel_files.get(f"{owner}/{slug}", {}).get(name)
            if data is None:
                return self._reply(404, {"code": 404, "message": "no such output file"})
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self):
            token = urlsplit(self.path).path.rsplit("/", 1)[-1]
            data = self._body()
            with stub._lock:
                if token not in stub.uploads:
                    return self._reply(404, {"code": 404, "message": "unknown upload"})
                stub.uploads[token]["data"] = data
            self._reply(200, {})

    return Handler
