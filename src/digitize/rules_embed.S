/* Embeds the extraction rules (rules/NAME.tsv) into the binary; digitize.rules_dir overrides them. */
    .section .rodata
.macro EMBED name, file
    .global benhan_rules_\name\()_begin
    .global benhan_rules_\name\()_end
benhan_rules_\name\()_begin:
    .incbin "\file"
benhan_rules_\name\()_end:
    .byte 0
.endm
    EMBED sections, "sections.tsv"
    EMBED demographics, "demographics.tsv"
    EMBED vitals, "vitals.tsv"
    EMBED labs, "labs.tsv"
    EMBED units, "units.tsv"
    EMBED abbreviations, "abbreviations.tsv"
    EMBED findings, "findings.tsv"
    EMBED cues, "cues.tsv"
    EMBED medication, "medication.tsv"
    .section .note.GNU-stack,"",@progbits
