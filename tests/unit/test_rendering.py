"""The petition text is Markdown, rendered and sanitised before any signer sees it."""

from petitions.rendering import render_markdown


def test_markdown_is_rendered():
    html = render_markdown("## Appeal\n\nWe **ask** you to [read](https://example.org).")
    assert "<h2>Appeal</h2>" in html
    assert "<strong>ask</strong>" in html
    assert 'href="https://example.org"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_raw_html_is_shown_as_text_not_run():
    html = render_markdown('<script>alert(1)</script><img src=x onerror="alert(1)">')
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html


def test_javascript_links_are_removed():
    html = render_markdown("[click](javascript:alert(1)) and ![i](data:image/png;base64,AA)")
    assert "<a" not in html, "a javascript: URL must never become a link"
    assert "<img" not in html


def test_sanitiser_drops_unsafe_links_even_if_the_parser_made_them(monkeypatch):
    from petitions import rendering

    monkeypatch.setattr(
        rendering._markdown, "render", lambda source: '<a href="javascript:x()">x</a><p>ok</p>'
    )
    html = rendering.render_markdown("ignored")
    assert "javascript" not in html
    assert "<p>ok</p>" in html


def test_empty_body_renders_empty():
    assert str(render_markdown("")) == ""
