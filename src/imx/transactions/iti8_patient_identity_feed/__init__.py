"""ITI-8 Patient Identity Feed (HL7 v2 ADT A01/A04/A05/A08/A40; ITI TF-2a 3.8).

The hospital's registration feed into the responder's patient index. Pure: parse
ADT messages into ``PatientFeedEvent`` and build the HL7 v2 ACK; the MLLP listener
is an edge (``imx.hl7v2``).
"""
