"""The playbook: the committed example loads, and every mistake ends in one sentence naming file and campaign."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmint.campaigns.playbook import load_playbook, rule_columns, rule_sql
from segmint.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "campaigns.example.toml"


def test_example_playbook_loads() -> None:
    playbook = load_playbook(EXAMPLE)
    names = [c.name for c in playbook.active()]
    assert names == ["vip-early-access", "win-back-valuable", "at-risk-reminder", "second-purchase"]
    assert playbook.defaults.holdout_share == 0.10
    vip = playbook.active()[0]
    assert vip.render({"offer": "early access", "product_names": ["Mug", "Tea"]}) == (
        "Thank you for being one of our best customers: early access. Picked for you: Mug, Tea."
    )


@pytest.mark.parametrize(
    ("rule", "sql"),
    [
        ("churn_score >= 0.7 and clv_12m > 50", "(p.churn_score >= 0.7 and p.clv_12m > 50)"),
        ("r_score<=2 or (frequency != 1)", "(f.r_score <= 2 or ( f.frequency <> 1 ))"),
        ("rfm_segment in ('At Risk', 'Can''t Lose')", "(f.rfm_segment in ( 'At Risk' , 'Can''t Lose' ))"),
        (
            "segment_name = 'VIP' and not churn_score is null",
            "(coalesce(p.segment_name, a.segment_name) = 'VIP' and not p.churn_score is null)",
        ),
    ],
)
def test_rules_translate_to_sql(rule: str, sql: str) -> None:
    assert rule_sql(rule, rule_columns()) == sql


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("email = 'x'", "unknown column 'email'"),
        ("frequency > 1; drop table orders", "unexpected character ';'"),
        ("(frequency > 1", "unbalanced parentheses"),
        ("frequency > 1)", "unbalanced parentheses"),
        ("monetary > 1 -- comment", "unexpected character '-'"),
    ],
)
def test_unsafe_or_unknown_rules_are_refused(rule: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        rule_sql(rule, rule_columns())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[[campaigns]]\nname = "a"\nrfm_segments = ["Lost"]\noffr = "x"\n',
            "campaign 'a' key 'offr': unknown key; remove it or fix its spelling",
        ),
        (
            '[[campaigns]]\nname = "b"\n',
            "campaign 'b': say who it targets: segments, rfm_segments and/or rule.",
        ),
        (
            '[[campaigns]]\nname = "c"\nrule = "emails > 1"\n',
            "campaign 'c' key 'rule': unknown column 'emails'",
        ),
        (
            '[[campaigns]]\nname = "d"\nrule = "frequency > 1"\nmessage = "{{ offer"\n',
            "campaign 'd' key 'message': message template:",
        ),
        ('[[campaigns]]\nname = "Win Back"\nrule = "frequency > 1"\n', "must be lower-case letters"),
        (
            '[[campaigns]]\nname = "e"\nrule = "frequency > 1"\nholdout_share = 1.5\n',
            "campaign 'e' key 'holdout_share': Input should be less than 1",
        ),
        (
            '[[campaigns]]\nname = "f"\nrule = "frequency > 1"\n[[campaigns]]\nname = "f"\nrule = "frequency > 2"\n',
            "campaign name 'f' is used twice",
        ),
        ('[[campaigns]]\nname = "g"\nrule = "frequency > 1"\nenabled = false\n', "no enabled [[campaigns]]"),
        ("[[campaigns]\n", "not valid TOML"),
    ],
)
def test_playbook_mistakes_name_file_and_campaign(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "campaigns.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_playbook(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_missing_playbook_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"copy campaigns\.example\.toml"):
        load_playbook(tmp_path / "campaigns.toml")


def test_message_template_is_sandboxed(tmp_path: Path) -> None:
    path = tmp_path / "campaigns.toml"
    path.write_text(
        '[[campaigns]]\nname = "x"\nrule = "frequency > 1"\n'
        "message = \"{{ ''.__class__.__mro__[1].__subclasses__() }}\"\n",
        encoding="utf-8",
    )
    campaign = load_playbook(path).active()[0]
    from jinja2.exceptions import SecurityError

    with pytest.raises(SecurityError):
        campaign.render({})


def test_a_demographic_rule_is_refused_unless_the_shop_chooses_it(tmp_path: Path) -> None:
    from segmint.campaigns.playbook import refused_demographics

    path = tmp_path / "campaigns.toml"
    path.write_text(
        '[[campaigns]]\nname = "young-vips"\nrule = "age < 30 and frequency > 1"\n'
        'message = "Hello"\noffer = "10% off"\n',
        encoding="utf-8",
    )
    playbook = load_playbook(path)
    with pytest.raises(ConfigError) as caught:
        refused_demographics(playbook, use_demographics=False)
    sentence = str(caught.value)
    assert sentence.startswith("Campaign 'young-vips' targets by age, a demographic attribute")
    assert "set use_demographics = true under [campaigns]" in sentence and "\n" not in sentence
    refused_demographics(playbook, use_demographics=True)  # the shop's choice: allowed
    # A rule without demographics is never refused.
    path.write_text(
        '[[campaigns]]\nname = "vips"\nrule = "frequency > 1"\nmessage = "Hi"\n', encoding="utf-8"
    )
    refused_demographics(load_playbook(path), use_demographics=False)
