"""Configuration picks a conversation API and an uploader; the adapters fit their interfaces."""

import inspect

import pytest

from app.backends import ADAPTERS, Backend, create_api, create_backend
from app.backends.api import ConversationApi, SingleRequestUploads, SseEvents, Uploader
from app.backends.reference import ReferenceApi
from app.backends.uploaders import SingleUploader, TusUploader, create_uploader
from app.core.http import FileSlice, Request, Response
from app.core.models import FileInfo, Uploaded
from app.core.pacing import Pacer
from app.core.tus import TusUpload
from app.core.upload import Finished, SingleUpload


def page_config(**backend_over) -> dict:
    backend = {"adapter": "reference", "base_url": "https://chat.example/prefix", "conversation": "support",
               "identities": {"agent": {"token": "agent-dev-token", "name": "Agent"},
                              "customer": {"token": "customer-dev-token", "name": "Customer"}}}
    backend.update(backend_over)
    return {"backend": backend}


def public_methods(proto) -> list[str]:
    return [n for n, v in vars(proto).items() if callable(v) and not n.startswith("_")]


@pytest.mark.parametrize("proto, cls", [(ConversationApi, ReferenceApi), (SseEvents, ReferenceApi),
                                        (Uploader, TusUploader), (Uploader, SingleUploader)])
def test_implementations_match_their_interface_parameter_for_parameter(proto, cls):
    for name in public_methods(proto):
        assert list(inspect.signature(getattr(proto, name)).parameters) == list(
            inspect.signature(getattr(cls, name)).parameters), f"{cls.__name__}.{name}"
    for name in getattr(proto, "__annotations__", {}):
        assert hasattr(cls, name) or name in inspect.signature(cls).parameters, f"{cls.__name__}.{name}"


class TestCreateBackend:
    def test_reference_with_its_tus_uploader(self):
        backend = create_backend(page_config(), "customer")
        assert isinstance(backend, Backend)
        api, uploader = backend.api, backend.uploader
        assert (api.base_url, api.conversation, api.identity) == ("https://chat.example/prefix", "support", "customer")
        assert api.history_request().headers["Authorization"] == "Bearer customer-dev-token"
        assert (uploader.kind, uploader.endpoint) == ("tus", "https://chat.example/prefix/api/uploads")
        first = uploader.begin(FileInfo("a.txt", 3)).next()
        assert first.headers["Authorization"] == "Bearer customer-dev-token"

    def test_defaults(self):
        cfg = page_config()
        del cfg["backend"]["base_url"], cfg["backend"]["conversation"]
        api = create_api(cfg, "agent")
        assert (api.base_url, api.conversation) == ("", "default")

    def test_identity_entry_may_be_the_token(self):
        api = create_api(page_config(identities={"agent": "t-1"}), "agent")
        assert api.restrictions_request().headers["Authorization"] == "Bearer t-1"

    def test_unknown_adapter_lists_the_known_ones(self):
        with pytest.raises(ValueError) as info:
            create_backend(page_config(adapter="xmpp"), "agent")
        assert "'xmpp'" in str(info.value) and "known adapters: matrix, reference" in str(info.value)
        assert set(ADAPTERS) == {"reference", "matrix"}

    def test_matrix_adapter_uploads_in_one_request(self):
        config = {"backend": {"adapter": "matrix", "homeserver": "http://127.0.0.1:8008", "room": "!r",
                              "identities": {"agent": "syt_a"}}}
        backend = create_backend(config, "agent")
        assert backend.api.name == "matrix" and backend.uploader.kind == "single"

    @pytest.mark.parametrize("cfg", [{}, {"backend": None}, {"backend": []}, None])
    def test_no_backend_table(self, cfg):
        with pytest.raises(ValueError, match="backend"):
            create_backend(cfg, "agent")

    @pytest.mark.parametrize("adapter", [None, 3, ""])
    def test_missing_adapter(self, adapter):
        with pytest.raises(ValueError, match="known adapters: matrix, reference"):
            create_backend(page_config(adapter=adapter), "agent")

    def test_unknown_identity_lists_the_known_ones(self):
        with pytest.raises(ValueError, match="'boss'; known identities: agent, customer"):
            create_backend(page_config(), "boss")

    @pytest.mark.parametrize("over, match", [
        ({"identities": {}}, "identities"),
        ({"identities": None}, "identities"),
        ({"identities": {"agent": {"name": "Agent"}}}, "agent.token"),
        ({"conversation": 5}, "conversation"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"uploader": "ftp"}, "unknown uploader 'ftp'; known uploaders: tus, single"),
        ({"uploader": {"kind": "carrier pigeon"}}, "known uploaders"),
        ({"uploader": 3}, "backend.uploader"),
        ({"uploader": "single"}, "the reference adapter cannot upload in a single request"),
        ({"uploader": {"kind": "tus", "headers": "x"}}, "uploader.headers"),
        ({"uploader": {"kind": "tus", "headers": {"X-A": "1\n2"}}}, "single-line"),
    ])
    def test_bad_settings_name_what_is_wrong(self, over, match):
        with pytest.raises(ValueError, match=match):
            create_backend(page_config(**over), "agent")


class TestUploaderSettings:
    api = ReferenceApi("https://chat.example", "secret", identity="agent")

    def test_by_name(self):
        assert create_uploader("tus", self.api).endpoint == "https://chat.example/api/uploads"

    def test_extra_headers_for_the_apis_own_endpoint_add_to_its_token(self):
        up = create_uploader({"headers": {"X-Tenant": "7"}}, self.api)
        assert up.headers == {"Authorization": "Bearer secret", "X-Tenant": "7"}

    def test_another_endpoint_never_gets_the_apis_token(self):
        up = create_uploader({"kind": "tus", "endpoint": "https://files.example/tus",
                              "headers": {"Authorization": "Bearer files-token"}}, self.api)
        assert (up.endpoint, up.headers) == ("https://files.example/tus", {"Authorization": "Bearer files-token"})
        assert "files-token" not in repr(up)

    def test_uploads_begun_by_one_uploader_share_its_pacer(self):
        pacer = Pacer()
        up = create_uploader(None, self.api, pacer=pacer)
        machine = up.begin(FileInfo("a.bin", 10))
        assert isinstance(machine, TusUpload) and machine._pacer is pacer

    def test_single_for_an_api_that_has_a_single_request_upload(self):
        class MatrixLike(ReferenceApi):
            """What a Matrix adapter adds: one POST per file, an mxc:// ref back."""

            def uploader_defaults(self):
                return {"kind": "single"}

            def upload_request(self, info):
                return Request("POST", "/_matrix/media/v3/upload", {}, body=FileSlice(0, info.size))

            def parse_upload(self, resp, info):
                return Uploaded("mxc://m/" + resp.text, info, "image/png")

        api = MatrixLike("", "t")
        assert isinstance(api, SingleRequestUploads) and not isinstance(self.api, SingleRequestUploads)
        uploader = create_uploader(None, api)
        assert uploader.kind == "single"
        machine = uploader.begin(FileInfo("cat.png", 9), record={"protocol": "tus"})  # nothing to resume
        assert isinstance(machine, SingleUpload) and machine.next().body == FileSlice(0, 9)
        machine.feed(Response(200, {}, "abc"))
        assert machine.next() == Finished(Uploaded("mxc://m/abc", FileInfo("cat.png", 9), "image/png"))

    def test_a_tus_uploader_needs_an_endpoint(self):
        class NoUploads(ReferenceApi):
            def uploader_defaults(self):
                return {"kind": "tus"}

        with pytest.raises(ValueError, match="backend.uploader.endpoint"):
            create_uploader(None, NoUploads("", "t"))
