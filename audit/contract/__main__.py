"""``python -m audit.contract``: print the JSON Schema of report.json (the shipped file's source).

Regenerate the shipped copy with ``python -m audit.contract > audit/schemas/report.schema.json``.
"""

import json

from .report import report_schema

print(json.dumps(report_schema(), indent=2, ensure_ascii=False))
