"""certificates: templates, overrides, certificates

Revision ID: 0007_certificates
Revises: 0006_attendance
Create Date: 2026-11-22 08:13:58.778958

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_certificates'
down_revision = '0006_attendance'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('certificate_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('page_size', sa.String(length=20), nullable=False),
    sa.Column('heading', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('footer', sa.Text(), nullable=True),
    sa.Column('logos', sa.JSON(), nullable=True),
    sa.Column('background', sa.String(length=100), nullable=True),
    sa.Column('signatories', sa.JSON(), nullable=True),
    sa.Column('rule', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_certificate_template_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_certificate_template_updated_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_template')),
    sa.UniqueConstraint('event_id', 'kind', name='uq_certificate_template')
    )
    op.create_table('certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('holder_name', sa.String(length=200), nullable=False),
    sa.Column('holder_name_native', sa.String(length=200), nullable=True),
    sa.Column('organisation', sa.String(length=200), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('stored_name', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=300), nullable=True),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_certificate_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], name=op.f('fk_certificate_job_id_job'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_message.id'], name=op.f('fk_certificate_message_id_outbox_message'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_certificate_person_id_person'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_certificate_registration_id_registration'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate')),
    sa.UniqueConstraint('code', name=op.f('uq_certificate_code'))
    )
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.create_index('ix_certificate_event_kind', ['event_id', 'kind', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_registration_id'), ['registration_id'], unique=False)
        batch_op.create_index('uq_certificate_valid_person', ['event_id', 'kind', 'person_id'], unique=True, sqlite_where=sa.text("status = 'valid' AND person_id IS NOT NULL"), postgresql_where=sa.text("status = 'valid' AND person_id IS NOT NULL"))
        batch_op.create_index('uq_certificate_valid_registration', ['event_id', 'kind', 'registration_id'], unique=True, sqlite_where=sa.text("status = 'valid' AND registration_id IS NOT NULL"), postgresql_where=sa.text("status = 'valid' AND registration_id IS NOT NULL"))

    op.create_table('certificate_override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('include', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.Column('by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['by_user_id'], ['user_account.id'], name=op.f('fk_certificate_override_by_user_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_certificate_override_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_certificate_override_registration_id_registration'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_override')),
    sa.UniqueConstraint('event_id', 'kind', 'registration_id', name='uq_certificate_override')
    )
    with op.batch_alter_table('certificate_override', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_override_registration_id'), ['registration_id'], unique=False)




def downgrade():

    with op.batch_alter_table('certificate_override', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_override_registration_id'))

    op.drop_table('certificate_override')
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_index('uq_certificate_valid_registration', sqlite_where=sa.text("status = 'valid' AND registration_id IS NOT NULL"), postgresql_where=sa.text("status = 'valid' AND registration_id IS NOT NULL"))
        batch_op.drop_index('uq_certificate_valid_person', sqlite_where=sa.text("status = 'valid' AND person_id IS NOT NULL"), postgresql_where=sa.text("status = 'valid' AND person_id IS NOT NULL"))
        batch_op.drop_index(batch_op.f('ix_certificate_registration_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_person_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_job_id'))
        batch_op.drop_index('ix_certificate_event_kind')

    op.drop_table('certificate')
    op.drop_table('certificate_template')

