"""Message templates: subject, text and HTML from one name, rendered before any connection."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import jinja2
import pytest

from gmail_send import (
    ConfigurationError,
    GmailSender,
    MessageError,
    TemplateError,
    Templates,
    from_env,
)
from gmail_send.message import compose_message
from gmail_send.message._html_text import html_to_text
from gmail_send.testing import LocalGmail

from .local_helpers import ACCOUNT, APP_PASSWORD, sender_for

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def write(folder: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write(
        tmp_path / "templates",
        {
            "welcome.subject.txt": "Welcome,\n  {{ name }}!\n",
            "welcome.txt": "Hello {{ name }} & co,\nyour plan: {{ plan }}.\n",
            "welcome.html": '<p>Hello <b>{{ name }}</b> &amp; co,</p>\n<p><img src="'
            '{{ inline_image("logo.png") }}" alt="Logo"> plan: {{ plan }}</p>\n'
            '<p><img src="{{ inline_image("logo.png") }}" alt=""></p>\n',
            "receipt.html": "<h1>Receipt {{ order }}</h1><p>Total: {{ total }}</p>"
            '<p><a href="https://shop.example/o/{{ order }}">Your order</a></p>',
            "broken.txt": "Hello {{ name }\n",
            "nested.txt": "line one\nHello {{ user.first }}\n",
            "logo.png": PNG,
        },
    )


def body(message: EmailMessage, subtype: str) -> str:
    """A body part's text, line ends as written (the message is parsed from the CRLF bytes)."""
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, subtype
    return str(part.get_content()).replace("\r\n", "\n")


def test_one_name_gives_subject_text_and_html(folder: Path) -> None:
    outgoing = compose_message(
        account=ACCOUNT,
        to="ada@example.com",
        template="welcome",
        context={"name": "Ada <Lovelace>", "plan": "Pro"},
        templates=Templates(folder),
    )
    message = outgoing.message
    assert message["Subject"] == "Welcome, Ada <Lovelace>!"
    assert body(message, "plain") == "Hello Ada <Lovelace> & co,\nyour plan: Pro.\n"
    html = body(message, "html")
    assert "<b>Ada &lt;Lovelace&gt;</b> &amp; co" in html  # escaped; the template's &amp; kept
    assert message.get_content_type() == "multipart/alternative"


def test_explicit_fields_win_over_the_template(folder: Path) -> None:
    message = compose_message(
        account=ACCOUNT,
        to="ada@example.com",
        subject="Explicit subject",
        text="Explicit text",
        template="welcome",
        context={"name": "Ada", "plan": "Pro"},
        templates=Templates(folder),
    ).message
    assert message["Subject"] == "Explicit subject"
    assert body(message, "plain").strip() == "Explicit text"
    assert "<b>Ada</b>" in body(message, "html")


def test_inline_images_are_attached_once_per_message(folder: Path) -> None:
    templates = Templates(folder)
    for _ in range(2):  # a second message gets its own image, not one more
        message = compose_message(
            account=ACCOUNT,
            to="ada@example.com",
            template="welcome",
            context={"name": "Ada", "plan": "Pro"},
            templates=templates,
        ).message
        images = [p for p in message.walk() if p.get_content_type() == "image/png"]
        assert len(images) == 1
        [image] = images
        content_id = image["Content-ID"].strip("<>")
        assert body(message, "html").count(f'src="cid:{content_id}"') == 2
        assert image.get_content() == PNG
        assert image.get_content_disposition() == "inline"


def test_only_html_gets_a_derived_text_part(folder: Path) -> None:
    message = compose_message(
        account=ACCOUNT,
        to="ada@example.com",
        subject="Receipt",
        template="receipt",
        context={"order": 42, "total": "€ 9.50"},
        templates=Templates(folder),
    ).message
    assert message.get_content_type() == "multipart/alternative"
    assert body(message, "plain") == (
        "Receipt 42\n\nTotal: € 9.50\n\nYour order (https://shop.example/o/42)\n"
    )


def test_html_without_a_template_is_unchanged() -> None:
    message = compose_message(account=ACCOUNT, to="ada@example.com", html="<p>Hi</p>").message
    assert message.get_content_type() == "text/html"


async def test_a_missing_variable_fails_before_any_connection(
    gmail: LocalGmail, folder: Path
) -> None:
    async with sender_for(gmail, templates=folder) as sender:
        with pytest.raises(TemplateError) as caught:
            await sender.send(to="ada@example.com", template="welcome", context={"name": "Ada"})
        error = caught.value
        assert isinstance(error, MessageError)
        assert (error.template, error.variable) == ("welcome.txt", "plan")
        assert "welcome.txt (line 2)" in error.message
        with pytest.raises(TemplateError) as caught:
            await sender.send(to="ada@example.com", template="nested", context={"user": {}})
        assert (caught.value.template, caught.value.variable) == ("nested.txt", "first")
        assert "(line 2)" in caught.value.message
    assert gmail.sessions == []


async def test_a_templated_send_arrives(gmail: LocalGmail, folder: Path) -> None:
    async with sender_for(gmail, templates=Templates(folder)) as sender:
        result = await sender.send(
            to="ada@example.com", template="welcome", context={"name": "Ada", "plan": "Pro"}
        )
    [received] = gmail.messages
    parsed = received.parsed()
    assert parsed["Message-ID"] == result.message_id
    assert parsed["Subject"] == "Welcome, Ada!"


def test_template_problems_are_template_errors(folder: Path) -> None:
    templates = Templates(folder)
    with pytest.raises(TemplateError, match=r"no template 'missing'") as caught:
        templates.render("missing")
    assert caught.value.template == "missing"
    with pytest.raises(TemplateError, match=r"broken.txt has a syntax error on line 1"):
        templates.render("broken", {"name": "x"})
    with pytest.raises(TemplateError, match="may not define 'inline_image'"):
        templates.render("welcome", {"inline_image": 1})
    write(folder, {"escape.html": '<img src="{{ inline_image("../secret.png") }}">'})
    with pytest.raises(TemplateError, match="outside"):
        templates.render("escape")


def test_template_needs_templates_and_context_needs_a_template(folder: Path) -> None:
    with pytest.raises(ConfigurationError, match="the sender has no templates"):
        compose_message(account=ACCOUNT, to="a@example.com", template="welcome")
    with pytest.raises(TemplateError, match="context= is given without template="):
        compose_message(account=ACCOUNT, to="a@example.com", context={"a": 1})
    with pytest.raises(ConfigurationError, match="does not exist"):
        GmailSender(None, host="localhost", security="tls", templates=folder / "nowhere")
    with pytest.raises(ConfigurationError, match="directory or an environment"):
        Templates()


def test_an_application_environment_is_wrapped_not_changed(folder: Path) -> None:
    # An application's environment that does not escape: gmail_send's overlay escapes HTML.
    loader = jinja2.FileSystemLoader(folder)
    environment = jinja2.Environment(loader=loader, autoescape=False)  # noqa: S701
    environment.filters["shout"] = lambda value: str(value).upper()
    write(folder, {"shout.html": "<p>{{ name | shout }}</p>"})
    rendered = Templates(environment=environment).render("shout", {"name": "<ada>"})
    assert rendered.html == "<p>&lt;ADA&gt;</p>"
    with pytest.raises(TemplateError, match="'name'"):
        Templates(environment=environment).render("shout", {})
    assert environment.undefined is jinja2.Undefined  # the application's own stays lenient
    assert environment.get_template("shout.html").render() == "<p></p>"
    with pytest.raises(TemplateError, match="no images folder"):
        Templates(environment=environment).render("welcome", {"name": "A", "plan": "B"})


def test_from_env_reads_the_templates_folder(folder: Path) -> None:
    environ = {
        "GMAIL_SEND_USER": ACCOUNT,
        "GMAIL_SEND_APP_PASSWORD": APP_PASSWORD,
        "GMAIL_SEND_TEMPLATES": str(folder),
    }
    settings = from_env(environ)
    assert settings.templates == str(folder)
    sender = GmailSender(**settings)
    assert isinstance(sender.templates, Templates)
    assert sender.templates.directory == folder
    with pytest.raises(ConfigurationError, match=r"GMAIL_SEND_TEMPLATES: .* does not exist"):
        from_env({**environ, "GMAIL_SEND_TEMPLATES": str(folder / "nowhere")})
    own = Templates(folder)
    assert from_env(environ, templates=own).templates is own


def test_the_derived_text_follows_the_documented_rules() -> None:
    html = (
        "<html><head><title>T</title><style>p { color: red }</style></head><body>"
        "<h1>Hello &amp; welcome</h1><p>Thanks for   joining.<br>Second line.</p>"
        '<ul><li>One</li><li>Two <a href="https://x.example/a">link</a></li></ul>'
        '<ol><li>a</li><li>b</li></ol><p><img src="cid:1" alt="Logo"> '
        '<a href="https://x.example">https://x.example</a> '
        '<a href="mailto:help@x.example">help@x.example</a></p>'
        "<table><tr><td>A</td><td>B</td></tr><tr><td>C</td><td>D</td></tr></table>"
        "<pre>  keep\n   this</pre><hr>end<script>alert(1)</script></body></html>"
    )
    assert html_to_text(html) == (
        "Hello & welcome\n\nThanks for joining.\nSecond line.\n\n- One\n"
        "- Two link (https://x.example/a)\n\n1. a\n2. b\n\n"
        "Logo https://x.example help@x.example\n\nA  B\nC  D\n\n  keep\n   this\n\n"
        "--------------------\nend\n"
    )
