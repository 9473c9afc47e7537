"""The ECG statement vocabulary: the single source of truth for label names.

PTB-XL annotates every record with SCP-ECG statements (``scp_codes``).  Its statement table
(``scp_statements.csv``, CC BY 4.0, Wagner et al. 2020) lists 71 statements, each flagged as
diagnostic (44), form (19) and/or rhythm (12); diagnostic statements are grouped into 23
subclasses and 5 superclasses (NORM, MI, STTC, CD, HYP).  The table is embedded below so that
the package works offline; :func:`load_statement_table` re-reads it from a PTB-XL copy and
:func:`check_table_matches` verifies that the embedded copy agrees with it.

Every part of sssd-hf (model config ``label_names``, pipeline, data, Space) takes its label
names from here.  Label order matters: a model's label vector index ``i`` means
``label_names[i]``; the canonical order of each vocabulary is alphabetical, which is the order
of scikit-learn's ``MultiLabelBinarizer`` used by the PTB-XL benchmark code that SSSD-ECG was
trained with.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class Statement:
    """One SCP-ECG statement as described by PTB-XL's statement table."""

    code: str
    description: str
    diagnostic: bool = False
    form: bool = False
    rhythm: bool = False
    diagnostic_class: Optional[str] = None
    diagnostic_subclass: Optional[str] = None

    @property
    def group(self) -> str:
        """``"rhythm"``, ``"form"`` or ``"diagnostic"`` (rhythm wins, then form), for display."""
        if self.rhythm:
            return "rhythm"
        if self.form and not self.diagnostic:
            return "form"
        return "diagnostic"


def _diagnostic(code: str, description: str, superclass: str, subclass: str, form: bool = False) -> Statement:
    """A diagnostic statement of superclass ``superclass`` and subclass ``subclass``."""
    return Statement(
        code, description, diagnostic=True, form=form, diagnostic_class=superclass, diagnostic_subclass=subclass
    )


# fmt: off
STATEMENTS: Tuple[Statement, ...] = (
    _diagnostic('1AVB', 'first degree AV block', 'CD', '_AVB'),
    _diagnostic('2AVB', 'second degree AV block', 'CD', '_AVB'),
    _diagnostic('3AVB', 'third degree AV block', 'CD', '_AVB'),
    Statement('ABQRS', 'abnormal QRS', form=True),
    Statement('AFIB', 'atrial fibrillation', rhythm=True),
    Statement('AFLT', 'atrial flutter', rhythm=True),
    _diagnostic('ALMI', 'anterolateral myocardial infarction', 'MI', 'AMI'),
    _diagnostic('AMI', 'anterior myocardial infarction', 'MI', 'AMI'),
    _diagnostic('ANEUR', 'ST-T changes compatible with ventricular aneurysm', 'STTC', 'STTC'),
    _diagnostic('ASMI', 'anteroseptal myocardial infarction', 'MI', 'AMI'),
    Statement('BIGU', 'bigeminal pattern (unknown origin, SV or Ventricular)', rhythm=True),
    _diagnostic('CLBBB', 'complete left bundle branch block', 'CD', 'CLBBB'),
    _diagnostic('CRBBB', 'complete right bundle branch block', 'CD', 'CRBBB'),
    _diagnostic('DIG', 'digitalis-effect', 'STTC', 'STTC', form=True),
    _diagnostic('EL', 'electrolytic disturbance or drug (former EDIS)', 'STTC', 'STTC'),
    Statement('HVOLT', 'high QRS voltage', form=True),
    _diagnostic('ILBBB', 'incomplete left bundle branch block', 'CD', 'ILBBB'),
    _diagnostic('ILMI', 'inferolateral myocardial infarction', 'MI', 'IMI'),
    _diagnostic('IMI', 'inferior myocardial infarction', 'MI', 'IMI'),
    _diagnostic('INJAL', 'subendocardial injury in anterolateral leads', 'MI', 'AMI'),
    _diagnostic('INJAS', 'subendocardial injury in anteroseptal leads', 'MI', 'AMI'),
    _diagnostic('INJIL', 'subendocardial injury in inferolateral leads', 'MI', 'IMI'),
    _diagnostic('INJIN', 'subendocardial injury in inferior leads', 'MI', 'IMI'),
    _diagnostic('INJLA', 'subendocardial injury in lateral leads', 'MI', 'AMI'),
    Statement('INVT', 'inverted T-waves', form=True),
    _diagnostic('IPLMI', 'inferoposterolateral myocardial infarction', 'MI', 'IMI'),
    _diagnostic('IPMI', 'inferoposterior myocardial infarction', 'MI', 'IMI'),
    _diagnostic('IRBBB', 'incomplete right bundle branch block', 'CD', 'IRBBB'),
    _diagnostic('ISCAL', 'ischemic in anterolateral leads', 'STTC', 'ISCA'),
    _diagnostic('ISCAN', 'ischemic in anterior leads', 'STTC', 'ISCA'),
    _diagnostic('ISCAS', 'ischemic in anteroseptal leads', 'STTC', 'ISCA'),
    _diagnostic('ISCIL', 'ischemic in inferolateral leads', 'STTC', 'ISCI'),
    _diagnostic('ISCIN', 'ischemic in inferior leads', 'STTC', 'ISCI'),
    _diagnostic('ISCLA', 'ischemic in lateral leads', 'STTC', 'ISCA'),
    _diagnostic('ISC_', 'non-specific ischemic', 'STTC', 'ISC_'),
    _diagnostic('IVCD', 'non-specific intraventricular conduction disturbance (block)', 'CD', 'IVCD'),
    _diagnostic('LAFB', 'left anterior fascicular block', 'CD', 'LAFB/LPFB'),
    _diagnostic('LAO/LAE', 'left atrial overload/enlargement', 'HYP', 'LAO/LAE'),
    _diagnostic('LMI', 'lateral myocardial infarction', 'MI', 'LMI'),
    _diagnostic('LNGQT', 'long QT-interval', 'STTC', 'STTC', form=True),
    Statement('LOWT', 'low amplitude T-waves', form=True),
    _diagnostic('LPFB', 'left posterior fascicular block', 'CD', 'LAFB/LPFB'),
    Statement('LPR', 'prolonged PR interval', form=True),
    _diagnostic('LVH', 'left ventricular hypertrophy', 'HYP', 'LVH'),
    Statement('LVOLT', 'low QRS voltages in the frontal and horizontal leads', form=True),
    _diagnostic('NDT', 'non-diagnostic T abnormalities', 'STTC', 'STTC', form=True),
    _diagnostic('NORM', 'normal ECG', 'NORM', 'NORM'),
    _diagnostic('NST_', 'non-specific ST changes', 'STTC', 'NST_', form=True),
    Statement('NT_', 'non-specific T-wave changes', form=True),
    Statement('PAC', 'atrial premature complex', form=True),
    Statement('PACE', 'normal functioning artificial pacemaker', rhythm=True),
    _diagnostic('PMI', 'posterior myocardial infarction', 'MI', 'PMI'),
    Statement('PRC(S)', 'premature complex(es)', form=True),
    Statement('PSVT', 'paroxysmal supraventricular tachycardia', rhythm=True),
    Statement('PVC', 'ventricular premature complex', form=True),
    Statement('QWAVE', 'Q waves present', form=True),
    _diagnostic('RAO/RAE', 'right atrial overload/enlargement', 'HYP', 'RAO/RAE'),
    _diagnostic('RVH', 'right ventricular hypertrophy', 'HYP', 'RVH'),
    Statement('SARRH', 'sinus arrhythmia', rhythm=True),
    Statement('SBRAD', 'sinus bradycardia', rhythm=True),
    _diagnostic('SEHYP', 'septal hypertrophy', 'HYP', 'SEHYP'),
    Statement('SR', 'sinus rhythm', rhythm=True),
    Statement('STACH', 'sinus tachycardia', rhythm=True),
    Statement('STD_', 'non-specific ST depression', form=True),
    Statement('STE_', 'non-specific ST elevation', form=True),
    Statement('SVARR', 'supraventricular arrhythmia', rhythm=True),
    Statement('SVTAC', 'supraventricular tachycardia', rhythm=True),
    Statement('TAB_', 'T-wave abnormality', form=True),
    Statement('TRIGU', 'trigeminal pattern (unknown origin, SV or Ventricular)', rhythm=True),
    Statement('VCLVH', 'voltage criteria (QRS) for left ventricular hypertrophy', form=True),
    _diagnostic('WPW', 'Wolf-Parkinson-White syndrome', 'CD', 'WPW'),
)
# fmt: on

STATEMENTS_BY_CODE: Dict[str, Statement] = {s.code: s for s in STATEMENTS}

#: All 71 PTB-XL statements in canonical (alphabetical) order.
ALL_STATEMENTS: Tuple[str, ...] = tuple(sorted(STATEMENTS_BY_CODE))
DIAGNOSTIC_STATEMENTS: Tuple[str, ...] = tuple(c for c in ALL_STATEMENTS if STATEMENTS_BY_CODE[c].diagnostic)
FORM_STATEMENTS: Tuple[str, ...] = tuple(c for c in ALL_STATEMENTS if STATEMENTS_BY_CODE[c].form)
RHYTHM_STATEMENTS: Tuple[str, ...] = tuple(c for c in ALL_STATEMENTS if STATEMENTS_BY_CODE[c].rhythm)
DIAGNOSTIC_SUBCLASSES: Tuple[str, ...] = tuple(
    sorted({s.diagnostic_subclass for s in STATEMENTS if s.diagnostic_subclass})
)
DIAGNOSTIC_SUPERCLASSES: Tuple[str, ...] = tuple(
    sorted({s.diagnostic_class for s in STATEMENTS if s.diagnostic_class})
)

#: Named vocabularies, as used by ``--vocabulary`` options.
VOCABULARIES: Dict[str, Tuple[str, ...]] = {
    "all": ALL_STATEMENTS,
    "diagnostic": DIAGNOSTIC_STATEMENTS,
    "form": FORM_STATEMENTS,
    "rhythm": RHYTHM_STATEMENTS,
    "subdiagnostic": DIAGNOSTIC_SUBCLASSES,
    "superdiagnostic": DIAGNOSTIC_SUPERCLASSES,
}


def get_vocabulary(name_or_codes: str | Sequence[str]) -> Tuple[str, ...]:
    """Return a vocabulary by name (``"all"``, ``"rhythm"``, ...) or validate an explicit list.

    An explicit list keeps its order; each entry must be a PTB-XL statement code, a diagnostic
    subclass or a superclass.  Raises ``ValueError`` naming unknown entries.
    """
    if isinstance(name_or_codes, str):
        if name_or_codes in VOCABULARIES:
            return VOCABULARIES[name_or_codes]
        name_or_codes = [c.strip() for c in name_or_codes.split(",") if c.strip()]
    codes = tuple(name_or_codes)
    if not codes:
        raise ValueError(f"Empty vocabulary; use one of {sorted(VOCABULARIES)} or a list of statement codes.")
    known = set(ALL_STATEMENTS) | set(DIAGNOSTIC_SUBCLASSES) | set(DIAGNOSTIC_SUPERCLASSES)
    validate_codes(codes, known)
    if len(set(codes)) != len(codes):
        raise ValueError(f"Vocabulary has duplicate codes: {list(codes)}")
    return codes


def validate_codes(codes: Iterable[str], valid: Iterable[str]) -> None:
    """Raise ``ValueError`` naming every code not in ``valid`` and listing the valid ones."""
    valid_list = list(valid)
    valid_set = set(valid_list)
    unknown = [c for c in codes if c not in valid_set]
    if unknown:
        raise ValueError(
            f"Unknown ECG statement code(s) {unknown}. Valid codes are: {', '.join(valid_list)}"
        )


def describe(code: str) -> str:
    """``"AFIB - atrial fibrillation"`` for a statement code; the code itself if unknown."""
    s = STATEMENTS_BY_CODE.get(code)
    return f"{code} - {s.description}" if s else code


def load_statement_table(path: str | os.PathLike) -> Dict[str, Statement]:
    """Read PTB-XL's ``scp_statements.csv`` into ``{code: Statement}``.

    Raises ``FileNotFoundError`` if missing and ``ValueError`` if the columns are not PTB-XL's.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"PTB-XL statement table not found: {path}")
    required = {"description", "diagnostic", "form", "rhythm", "diagnostic_class", "diagnostic_subclass"}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = set(reader.fieldnames or [])
        if not required <= header:
            raise ValueError(f"{path} is not PTB-XL's scp_statements.csv: missing columns {sorted(required - header)}")
        table = {}
        for row in reader:
            code = row.get("") or row.get(reader.fieldnames[0])
            flag = lambda v: v.strip() not in ("", "0", "0.0")  # noqa: E731
            table[code] = Statement(
                code,
                row["description"],
                diagnostic=flag(row["diagnostic"]),
                form=flag(row["form"]),
                rhythm=flag(row["rhythm"]),
                diagnostic_class=row["diagnostic_class"] or None,
                diagnostic_subclass=row["diagnostic_subclass"] or None,
            )
    return table


def check_table_matches(table: Dict[str, Statement]) -> List[str]:
    """Differences between a loaded statement table and the embedded one (empty if identical)."""
    diffs = [f"missing {c}" for c in STATEMENTS_BY_CODE if c not in table]
    diffs += [f"extra {c}" for c in table if c not in STATEMENTS_BY_CODE]
    diffs += [f"differs {c}" for c in table if c in STATEMENTS_BY_CODE and table[c] != STATEMENTS_BY_CODE[c]]
    return diffs
