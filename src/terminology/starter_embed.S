/* Embeds the built-in ICD-10 starter set (data/icd10_starter.tsv) into the binary. */
    .section .rodata
    .global benhan_icd10_starter_begin
    .global benhan_icd10_starter_end
benhan_icd10_starter_begin:
    .incbin BENHAN_ICD10_STARTER_PATH
benhan_icd10_starter_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
