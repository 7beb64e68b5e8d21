"""The HL7 v2 edge: an MLLP listener for the registration feed (ITI-8).

Thin: frames in, ``transactions.iti8_patient_identity_feed`` parses, the patient feed service
applies, an ACK goes back. Never logs message content (it is all PHI).
"""
