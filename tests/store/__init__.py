"""Tests of the records store.

Where the contract's edge-case checklist (``noodl-backend-contract.md`` §11) touches storage, the tests are:

1. ARRAYEQ: ``test_records::test_array_equality_matches_an_element`` (and the property tests)
2. PTREQ: ``test_records::test_pointer_and_date_values_are_values_not_operators``
3. ADDUNIQUE: ``test_records::test_array_operators_are_applied_never_stored``,
   ``…test_unknown_operator_is_refused``
6. never widen: ``test_where_safety::test_malformed_filters_are_errors_with_parse_codes``
7. empty sets and nulls: ``test_records::test_empty_in_matches_nothing_and_empty_nin_everything``,
   ``…test_a_missing_column_behaves_as_null``
8. empty object: ``test_records::test_every_type_round_trips_in_rest_encoding`` (``"empty": {}``)
9. booleans: the same round trip (``b is False``), ``…test_booleans_never_match_numbers``
10. shapes: ``test_records::test_create_answers_object_id_and_created_at_only``,
    ``…test_missing_objects_are_101``,
    ``test_auth_acl::test_sessions_have_expiry_and_logout_revokes`` (``/users/me`` echoes the token)
11. client ids: ``test_records::test_client_object_ids_are_validated_and_unique``,
    ``…test_generated_ids_are_uuid4``
12. ACL keys, private rows 404: ``test_auth_acl::test_malformed_acls_are_123``,
    ``…test_private_rows_are_404_to_others_and_visible_to_the_owner``
13. sessions: ``test_auth_acl::test_sessions_have_expiry_and_logout_revokes``,
    ``…test_expired_sessions_are_209``
14. atomic precondition: ``test_records::test_save_expectations_are_checked_atomically``;
    not-found under ACL in
    ``test_auth_acl::test_private_rows_are_404_to_others_and_visible_to_the_owner``
15. delete payloads, post-commit events: ``test_changes``
16. distinct: ``test_records::test_distinct_and_aggregate``
17. system tables: ``test_schema::test_schema_shape_and_missing_class_is_103``,
    ``test_concurrency::test_system_and_join_tables_are_not_listed_as_classes``
18. type change: ``test_schema::test_type_change_converts_values_and_rebuilds_indexes``
"""
