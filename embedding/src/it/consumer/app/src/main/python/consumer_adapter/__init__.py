"""The consumer application's own adapter: not part of Snakepit."""
from snakepit_worker import Adapter, tool


class InvoiceAdapter(Adapter):
    """Sums invoice lines, as an application's own Python code would."""

    @tool
    def total(self, lines):
        return {"total": sum(line["qty"] * line["price"] for line in lines), "lines": len(lines)}
