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


# fmt: off
STATEMENTS: Tuple[Statement, ...] = (
    Statement('1AVB', 'first degree AV block', diagnostic=True, form=False, rhythm=False, diagnostic_class='CD', diagnostic_subclass='_AVB'),
    Statement('2AVB', 'second degree AV block', diagnostic=True, form=False, rhythm=False, diagnostic_class='CD', diagnostic_subclass='_AVB'),
    Statement('3AVB', 'third degree AV block', diagnostic=True, form=False, rhythm=False, diagnostic_class='CD', diagnostic_subclass='_AVB'),
    Statement('ABQRS', 'abnormal QRS', diagnostic=False, form=True, rhythm=False, diagnostic_class=None, diagnostic_subclass=None),
    Statement('AFIB', 'atrial fibrillation', diagnostic=False, form=False, rhythm=True, diagnostic_class=None, diagnostic_subclass=None),
    Statement('AFLT', 'atrial flutter', diagnostic=False, form=False, rhythm=True, diagnostic_class=None, diagnostic_subclass=None),
    Statement('ALMI', 'anterolateral myocardial infarction', diagnostic=True, form=False, rhythm=False, diagnostic_class='MI', diagnostic_subclass='AMI'),
    Statement('AMI', 'anterior myocardial infarction', diagnostic=True, form=False, rhythm=False, diagnostic_class='MI', diagnostic_subclass='AMI'),
    Statement('ANEUR', 'ST-T changes compatible with ventricular aneurysm', diagnostic=True, form=False, rhythm=False, diagnostic_class='STTC', diagnostic_subclass='STTC'),
    Statement('ASMI', 'anteroseptal myocardial infarction', diagnostic=True, form=False, rhythm=False, diagnostic_class='MI', diagnostic_subclass='AMI'),
    Statement('BIGU', 'bigeminal pattern (unknown origin, SV or Ventricular)', diagnostic=False, form=False, rhythm=True, diagnostic_class=None, diagnostic_subclass=None),
    Statement('CLBBB', 'complete left bundle branch block', diagnostic=True, form=False, rhythm=False, diagnostic_class='CD', diagnostic_subclass='CLBBB'),
    Statement('CRBBB', 'complete right bundle branch block', diagnostic=True, form=False, rhythm=False, diagnostic_class='CD', diagnostic_subclass='CRBBB'),
    Statement('DIG', 'digitalis-effect', diagnostic=True, form=True, rhythm=False, diagnostic_class='STTC', diagnostic_subclass='STTC'),
    Statement('EL', 'electrolytic disturbance or drug (former EDIS)', diagnostic=True, form=False, rhythm=False, diagnostic_class='STTC', diagnostic_subclass='STTC'),
    Statement('HVOLT', 'high QRS voltage', diagnostic=False, form=True, rhythm=False, diagnostic_class=None, diagnostic_subclass=None),
    Statement('ILBBB', 'incomplete left bundle branch block', diagnostic=True, form=False, rhythm=False, diagnostic_class='CD', diagnostic_subclass='ILBBB'),
    Statement('ILMI', 'inferolateral myocardial infarction', diagnostic=True, form=False, rhythm=False, diagnostic_class='MI', diagnostic_subclass='IMI'),
    Statement('IMI', 'inferior myocardial infarction', diagnostic=True, form=False, rhythm=False, diagnostic_class='MI', diagnostic_subclass='IMI'),
    Statement('INJAL', 'subendocardial injury in anterolateral leads', diagnostic=True, form=False, rhythm=False, diagnostic_class='MI', diagnostic_subclass='AMI'),
    Statement('INJAS', 'subendocardial injury in anteroseptal leads', diagnostic=True, form=False, rhythm=False, diagnostic_class='MI', diagnostic_subclass='AMI'),
    Statement('INJIL', 'subendocardial injury in inferolateral leads', diagnostic=True, form=False, rhythm=False, diagnostic_class='MI', diagnostic_subclass='IMI'),
    Statement('INJIN', 'subendocardial injury in inferior leads', diagnostic=True, form=False, rhythm=False, diagnostic_class='MI', diagnostic_subclass='IMI'),
    Statement('INJLA', 'subendocardial injury in lateral leads', diagnostic=True, form=False, rhythm=False, diagnostic_class='MI', diagnostic_subclass='AMI'),
    Statement('INVT', 'inverted T-waves', diagnostic=False, form=True, rhythm=False, diagnostic_class=None, diagnostic_subclass=None),
    Statement('IPLMI', 'inferoposterolateral myocardial infarction', diagnostic=True, form=False, rhythm=False, diagnostic_class='MI', diagnostic_subclass='IMI'),
    Statement('IPMI', 'inferoposterior myocardial infarction', diagnostic=True, form=False, rhythm=False, diagnostic_class='MI', diagnostic_subclass='IMI'),
    Statement('IRBBB', 'incomplete right bundle branch block', diagnostic=True, form=False, rhythm=False, diagnostic_class='CD', diagnostic_subclass='IRBBB'),
    Statement('ISCAL', 'ischemic in anterolateral leads', diagnostic=True, form=False, rhythm=False, diagnostic_class='STTC', diagnostic_subclass='ISCA'),
    Statement('ISCAN', 'ischemic in anterior leads', diagnostic=True, form=False, rhythm=False, diagnostic_class='STTC', diagnostic_subclass='ISCA'),
    Statement('ISCAS', 'ischemic in anteroseptal leads', diagnostic=True, form=False, rhythm=False, diagnostic_class='STTC', diagnostic_subclass='ISCA'),
    Statement('ISCIL', 'ischemic in inferolateral leads', diagnostic=True, form=False, rhythm=False, diagnostic_class='STTC', diagnostic_subclass='ISCI'),
    Statement('ISCIN', 'ischemic in inferior leads', diagnostic=True, form=False, rhythm=False, diagnostic_class='STTC', diagnostic_subclass='ISCI'),
    Statement('ISCLA', 'ischemic in lateral leads', diagnostic=True, form=False, rhythm=False, diagnostic_class='STTC', diagnostic_subclass='ISCA'),
    Statement('ISC_', 'non-specific ischemic', diagnostic=True, form=False, rhythm=False, diagnostic_class='STTC', diagnostic_subclass='ISC_'),
    Statement('IVCD', 'non-specific intraventricular conduction disturbance (block)', diagnostic=True, form=False, rhythm=False, diagnostic_class='CD', diagnostic_subclass='IVCD'),
    Statement('LAFB', 'left anterior fascicular block', diagnostic=True, form=False, rhythm=False, diagnostic_class='CD', diagnostic_subclass='LAFB/LPFB'),
    Statement('LAO/LAE', 'left atrial overload/enlargement', diagnostic=True, form=False, rhythm=False, diagnostic_class='HYP', diagnostic_subclass='LAO/LAE'),
    Statement('LMI', 'lateral myocardial infarction', diagnostic=True, form=False, rhythm=False, diagnostic_class='MI', diagnostic_subclass='LMI'),
    Statement('LNGQT', 'long QT-interval', diagnostic=True, form=True, rhythm=False, diagnostic_class='STTC', diagnostic_subclass='STTC'),
    Statement('LOWT', 'low amplitude T-waves', diagnostic=False, form=True, rhythm=False, diagnostic_class=None, diagnostic_subclass=None),
    Statement('LPFB', 'left posterior fascicular block', diagnostic=True, form=False, rhythm=False, diagnostic_class='CD', diagnostic_subclass='LAFB/LPFB'),
    Statement('LPR', 'prolonged PR interval', diagnostic=False, form=True, rhythm=False, diagnostic_class=None, diagnostic_subclass=None),
    Statement('LVH', 'left ventricular hypertrophy', diagnostic=True, form=False, rhythm=False, diagnostic_class='HYP', diagnostic_subclass='LVH'),
    Statement('LVOLT', 'low QRS voltages in the frontal and horizontal leads', diagnostic=False, form=True, rhythm=False, diagnostic_class=None, diagnostic_subclass=None),
    Statement('NDT', 'non-diagnostic T abnormalities', diagnostic=True, form=True, rhythm=False, diagnostic_class='STTC', diagnostic_subclass='STTC'),
    Statement('NORM', 'normal ECG', diagnostic=True, form=False, rhythm=False, diagnostic_class='NORM', diagnostic_subclass='NORM'),
    Statement('NST_', 'non-specific ST changes', diagnostic=True, form=True, rhythm=False, diagnostic_class='STTC', diagnostic_subclass='NST_'),
    Statement('NT_', 'non-specific T-wave changes', diagnostic=False, form=True, rhythm=False, diagnostic_class=None, diagnostic_subclass=None),
    Statement('PAC', 'atrial premature complex', diagnostic=False, form=True, rhythm=False, diagnostic_class=None, diagnostic_subclass=None),
    Statement('PACE', 'normal functioning artificial pacemaker', diagnostic=False, form=False, rhythm=True, diagnostic_class=None, diagnostic_subclass=None),
    Statement('PMI', 'posterior myocardial infarction', diagnostic=True, form=False, rhythm=False, diagnostic_class='MI', diagnostic_subclass='PMI'),
    Statement('PRC(S)', 'premature complex(es)', diagnostic=False, form=True, rhythm=False, diagnostic_class=None, diagnostic_subclass=None),
    Statement('PSVT', 'paroxysmal supraventricular tachycardia', diagnostic=False, form=False, rhythm=True, diagnostic_class=None, diagnostic_subclass=None),
    Statement('PVC', 'ventricular premature complex', diagnostic=False, form=True, rhythm=False, diagnostic_class=None, diagnostic_subclass=None),
    Statement('QWAVE', 'Q waves present', diagnostic=False, form=True, rhythm=False, diagnostic_class=None, diagnostic_subclass=None),
    Statement('RAO/RAE', 'right atrial overload/enlargement', diagnostic=True, form=False, rhythm=False, diagnostic_class='HYP', diagnostic_subclass='RAO/RAE'),
    Statement('RVH', 'right ventricular hypertrophy', diagnostic=True, form=False, rhythm=False, diagnostic_class='HYP', diagnostic_subclass='RVH'),
    Statement('SARRH', 'sinus arrhythmia', diagnostic=False, form=False, rhythm=True, diagnostic_class=None, diagnostic_subclass=None),
    Statement('SBRAD', 'sinus bradycardia', diagnostic=False, form=False, rhythm=True, diagnostic_class=None, diagnostic_subclass=None),
    Statement('SEHYP', 'septal hypertrophy', diagnostic=True, form=False, rhythm=False, diagnostic_class='HYP', diagnostic_subclass='SEHYP'),
    Statement('SR', 'sinus rhythm', diagnostic=False, form=False, rhythm=True, diagnostic_class=None, diagnostic_subclass=None),
    Statement('STACH', 'sinus tachycardia', diagnostic=False, form=False, rhythm=True, diagnostic_class=None, diagnostic_subclass=None),
    Statement('STD_', 'non-specific ST depression', diagnostic=False, form=True, rhythm=False, diagnostic_class=None, diagnostic_subclass=None),
    Statement('STE_', 'non-specific ST elevation', diagnostic=False, form=True, rhythm=False, diagnostic_class=None, diagnostic_subclass=None),
    Statement('SVARR', 'supraventricular arrhythmia', diagnostic=False, form=False, rhythm=True, diagnostic_class=None, diagnostic_subclass=None),
    Statement('SVTAC', 'supraventricular tachycardia', diagnostic=False, form=False, rhythm=True, diagnostic_class=None, diagnostic_subclass=None),
    Statement('TAB_', 'T-wave abnormality', diagnostic=False, form=True, rhythm=False, diagnostic_class=None, diagnostic_subclass=None),
    Statement('TRIGU', 'trigeminal pattern (unknown origin, SV or Ventricular)', diagnostic=False, form=False, rhythm=True, diagnostic_class=None, diagnostic_subclass=None),
    Statement('VCLVH', 'voltage criteria (QRS) for left ventricular hypertrophy', diagnostic=False, form=True, rhythm=False, diagnostic_class=None, diagnostic_subclass=None),
    Statement('WPW', 'Wolf-Parkinson-White syndrome', diagnostic=True, form=False, rhythm=False, diagnostic_class='CD', diagnostic_subclass='WPW'),)
# fmt: on

STATEMENTS_BY_CODE: Dict[str, Statement] = {s.code: s for s in STATEMENTS}

#: All 71 PTB-XL statements in canonical (alphabetical) order.
ALL_STATEMENTS: Tuple[str, ...] = tuple(sorted(STATEMENTS_BY_CODE))
DIAGNOSTIC_STATEMENTS: Tuple[str, ...] = tuple(c for c in ALL_STATEMENTS if STATEMENTS_BY_CODE[c].diagnostic)
FORM_STATEMENTS: Tuple[str, ...] = tuple(c for c in ALL_STATEMENTS if STATEMENTS_BY_CODE[c].form)
RHYTHM_STATEMENTS: Tuple[str, ...] = tuple(c for c in ALL_STATEMENTS if STATEMENTS_BY_CODE[c].rhythm)
DIAGNOSTIC_SUBCLASSES: Tuple[str, ...] = tuple(sorted({s.diagnostic_subclass for s in STATEMENTS if s.diagnostic_subclass}))
DIAGNOSTIC_SUPERCLASSES: Tuple[str, ...] = tuple(sorted({s.diagnostic_class for s in STATEMENTS if s.diagnostic_class}))

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
