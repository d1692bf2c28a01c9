"""What a drill prints: what it did, what it found, each expectation met (✓) or not (✗), and
the three figures every drill ends with: lost, doubled, 5xx other than 503."""

from drills.stack import say


class Report:
    def __init__(self):
        self.failures: list[str] = []
        self.lost = 0
        self.doubled = 0
        self.other_5xx = 0

    def did(self, text: str) -> None:
        say(f"  did: {text}")

    def found(self, text: str) -> None:
        say(f"  found: {text}")

    def expect(self, ok: bool, text: str) -> bool:
        say(f"    {'✓' if ok else '✗'} {text}")
        if not ok:
            self.failures.append(text)
        return ok

    def end(self) -> bool:
        say(f"  lost: {self.lost}, doubled: {self.doubled}, 5xx other than 503: {self.other_5xx}")
        for name, value in (
            ("lost", self.lost),
            ("doubled", self.doubled),
            ("5xx other than 503", self.other_5xx),
        ):
            if value:
                self.failures.append(f"{name}: {value}")
        return not self.failures
