// The rows normalizers write, by SQL column name: the contract between the normalizers and every
// store's schema. src/store/schema.ts checks at compile time that its tables take these rows, so a
// misspelt or mistyped column fails `tsc`, not a commit. `stream` and the write order
// (`event_time`, `event_seq`) are the store's to add.

type Text = string | null;
type Flag = boolean | null;
type Count = number | null;

export interface ProjectionRows {
  users: {
    user_id: string;
    email: Text;
    email_verified: Flag;
    username: Text;
    phone_number: Text;
    name: Text;
    nickname: Text;
    given_name: Text;
    family_name: Text;
    picture: Text;
    blocked: Flag;
    logins_count: Count;
    last_login: Text;
    created_at: Text;
    updated_at: Text;
    deleted_at: Text;
    /** The entity's JSON as the newest event carried it. */
    object: string;
  };
  organizations: { org_id: string; name: Text; display_name: Text; created_at: Text; updated_at: Text; deleted_at: Text; object: string };
  groups: {
    group_id: string;
    name: Text;
    external_id: Text;
    group_type: Text;
    connection_id: Text;
    org_id: Text;
    created_at: Text;
    updated_at: Text;
    deleted_at: Text;
    object: string;
  };
  organization_members: { org_id: string; user_id: string; added_at: Text };
  organization_member_roles: { org_id: string; user_id: string; role_id: string; role_name: Text; assigned_at: Text };
  organization_connections: {
    org_id: string;
    connection_id: string;
    assign_membership_on_login: Flag;
    show_as_button: Flag;
    is_signup_enabled: Flag;
    is_enabled: Flag;
    organization_access_level: Text;
    object: string;
  };
  organization_group_roles: { org_id: string; group_id: string; role_id: string; role_name: Text; assigned_at: Text };
  group_members: { group_id: string; member_type: string; member_id: string; connection_id: Text; added_at: Text };
  group_roles: { group_id: string; role_id: string; role_name: Text; assigned_at: Text };
  documents: {
    document_id: string;
    id_kind: string;
    published_id: string;
    release_id: Text;
    doc_type: Text;
    rev: Text;
    result: Text;
    updated_at: Text;
    deleted_at: Text;
  };
}

/** Each projection table's primary key, `stream` aside. */
export interface ProjectionKeys {
  users: 'user_id';
  organizations: 'org_id';
  groups: 'group_id';
  organization_members: 'org_id' | 'user_id';
  organization_member_roles: 'org_id' | 'user_id' | 'role_id';
  organization_connections: 'org_id' | 'connection_id';
  organization_group_roles: 'org_id' | 'group_id' | 'role_id';
  group_members: 'group_id' | 'member_type' | 'member_id';
  group_roles: 'group_id' | 'role_id';
  documents: 'document_id';
}

/** One row of `document_mutations` (its `seq` is the store's: the event's place in the history). */
export type DocumentMutationRow = {
  event_id: string;
  transaction_id: string;
  document_id: string;
  doc_type: Text;
  transition: string;
  previous_rev: Text;
  result_rev: Text;
  identity: Text;
  visibility: Text;
  timestamp: string;
  mutations: Text;
  result: Text;
  previous: Text;
  origin: string;
};
